#!/usr/bin/env python3
"""Exports torchvision architectures (random weights, seed 0) to ONNX and times PyTorch's
forward and input gradient on them at batch 1, 224x224, for the "Other architectures" table of
docs/PERFORMANCE.md:

    /usr/bin/python3 bench/peers/torchvision_times.py OUTDIR mobilenet_v2 efficientnet_b0 ...
    build/lrp bench OUTDIR/efficientnet_b0.onnx --runs 20 --warmup 3 --json

Prints one JSON line per model (medians of 20 forward and 10 gradient calls, 2 threads).
Segmentation models are named with their module, e.g. segmentation.fcn_resnet50 (5 classes, no
auxiliary head; the export returns the 'out' map [1, 5, 224, 224], and the gradient is that of
one output element, as for the classifiers)."""
import json
import os
import sys
import time
import warnings

import torch
import torchvision


class OutputMap(torch.nn.Module):
    """A segmentation model's 'out' map (torchvision returns a dict)."""
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)['out']


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    outdir, names = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    warnings.filterwarnings('ignore')
    for name in names:
        torch.manual_seed(0)
        if name.startswith('segmentation.'):
            kwargs = dict(weights=None, weights_backbone=None, num_classes=5)
            if not name.startswith('segmentation.lraspp'):
                kwargs['aux_loss'] = False
            model = OutputMap(getattr(torchvision.models.segmentation, name.split('.', 1)[1])(**kwargs)).eval()
        else:
            model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(1, 3, 224, 224)
        # ConvNeXt's LayerNorm exports as one LayerNormalization node from opset 17 on.
        opset = 17 if name.startswith('convnext') else 13
        torch.onnx.export(model, x, os.path.join(outdir, f'{name}.onnx'), opset_version=opset, input_names=['x'],
                          output_names=['y'])
        with torch.no_grad():
            for _ in range(3):
                model(x)
            fwd = []
            for _ in range(20):
                t = time.perf_counter()
                model(x)
                fwd.append((time.perf_counter() - t) * 1000)
        xg = x.clone().requires_grad_(True)
        grad = []
        for i in range(12):
            t = time.perf_counter()
            y = model(xg)
            y.reshape(1, -1)[0, y.argmax()].backward()
            if i >= 2:
                grad.append((time.perf_counter() - t) * 1000)
        print(json.dumps({'model': name, 'torch_forward_ms': median(fwd), 'torch_gradient_ms': median(grad)}), flush=True)


if __name__ == '__main__':
    main()
