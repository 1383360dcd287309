#!/usr/bin/python3
"""Export the peer-benchmark networks to ONNX: OUTDIR/<model>.onnx for mlp, mnist_cnn, vgg16, resnet50.

    /usr/bin/python3 bench/peers/export_models.py OUTDIR [--models mlp,mnist_cnn,vgg16,resnet50]

Same weights as zennit_bench.py uses (peer_models.build) and the same export settings as the
shared references (opset 13, do_constant_folding=False, TrainingMode.PRESERVE, input/logits,
dynamic batch). mlp and mnist_cnn are identical to shared/reference/zennit/*/model.onnx.
vgg16.onnx is ~528 MiB, resnet50.onnx ~98 MiB.
"""
import argparse
import os
import sys
import time

import torch
from torch.onnx import TrainingMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_models  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('outdir')
    parser.add_argument('--models', default=','.join(peer_models.MODELS))
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for name in args.models.split(','):
        start = time.time()
        model = peer_models.build(name)
        x = peer_models.bench_input(name, 1)
        path = os.path.join(args.outdir, f'{name}.onnx')
        torch.onnx.export(
            model, x, path, opset_version=13, do_constant_folding=False, training=TrainingMode.PRESERVE,
            input_names=['input'], output_names=['logits'],
            dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
        )
        print(f'{name}: wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB, input (N, '
              f'{", ".join(map(str, peer_models.INPUT_SHAPES[name]))}), {time.time() - start:.1f} s)', flush=True)


if __name__ == '__main__':
    main()
