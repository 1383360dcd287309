#!/usr/bin/env python3
"""Exports a 1-D convolutional signal classifier (ECG-style: 12 leads x 5000 samples; six
Conv1d + BatchNorm1d + ReLU blocks, a MaxPool1d, global average pooling, a Linear head; random
weights, seed 0; BatchNorm nodes kept) to ONNX and times PyTorch's forward and input gradient
on it, for the "1-D convolutional networks" section of docs/PERFORMANCE.md:

    /usr/bin/python3 bench/peers/conv1d_times.py OUTDIR [BATCH ...]
    build/lrp bench OUTDIR/conv1d_ecg.onnx --batch B --runs 10 --warmup 2 --json

Prints one JSON line per batch size (default 1 and 16; medians of 10 calls after 3 warm-ups,
2 threads)."""
import json
import os
import sys
import time

import torch
import torch.nn as nn
from torch.onnx import TrainingMode


def block(i, o, k, s):
    return [nn.Conv1d(i, o, k, stride=s, padding=k // 2), nn.BatchNorm1d(o), nn.ReLU()]


def model():
    torch.manual_seed(0)
    return nn.Sequential(*block(12, 64, 15, 2), nn.MaxPool1d(2), *block(64, 64, 7, 1), *block(64, 128, 7, 2),
                         *block(128, 128, 7, 1), *block(128, 256, 5, 2), *block(256, 256, 5, 1),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(256, 5)).eval()


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    batches = [int(b) for b in sys.argv[2:]] or [1, 16]
    os.makedirs(out, exist_ok=True)
    m = model()
    torch.onnx.export(m, torch.randn(1, 12, 5000), os.path.join(out, "conv1d_ecg.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "b"}, "logits": {0: "b"}},
                      do_constant_folding=False, training=TrainingMode.PRESERVE)
    torch.set_num_threads(2)
    for b in batches:
        x = torch.randn(b, 12, 5000)
        with torch.no_grad():
            for _ in range(3):
                m(x)
            fwd = []
            for _ in range(10):
                t0 = time.perf_counter()
                m(x)
                fwd.append(time.perf_counter() - t0)
        xg = x.clone().requires_grad_(True)
        grad = []
        for i in range(13):
            t0 = time.perf_counter()
            y = m(xg)
            torch.autograd.grad(y[:, 0].sum(), xg)
            if i >= 3:
                grad.append(time.perf_counter() - t0)
        print(json.dumps({"model": "conv1d_ecg", "batch": b, "torch_forward_ms": round(median(fwd) * 1e3, 2),
                          "torch_gradient_ms": round(median(grad) * 1e3, 2)}))


if __name__ == "__main__":
    main()
