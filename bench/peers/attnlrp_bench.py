#!/usr/bin/python3
"""Time AttnLRP on torchvision's ViT-B/16 in PyTorch, the way LXT's efficient mode computes it,
beside `lrp bench MODEL --composite attnlrp`. LXT itself is not packaged for Debian; its
efficient mode is input x gradient through the model with a changed backward, which this
script sets up by patching (`attnlrp_modules` of tests/fixtures/pytorch_reference.py, the
construction of the test reference tests/fixtures/vit_torchvision):
LayerNorm with its standard deviation detached, GELU's gate detached, torch.bmm (the
attention's two products of computed values) passing half the gradient to each factor.

    /usr/bin/python3 bench/peers/attnlrp_bench.py --export build/peer_models/vit_b_16.onnx
    /usr/bin/python3 bench/peers/attnlrp_bench.py --batch 1 --runs 5 --warmup 1 --threads 2 --json

Protocol as zennit_bench.py: torch.set_num_threads(T), eval mode, float32, random weights
(manual_seed(0); torchvision starts the head at zero, so it is drawn from N(0, 0.02)), input
randn from Generator().manual_seed(0), seed one-hot(argmax) x logit, tuned glibc malloc unless
--default-malloc. forward_ms: model(x) under no_grad; gradient_ms: forward + backward of the
seed; lrp_ms: the same with AttnLRP's backward, times the input. Medians over --runs calls after
--warmup; peak_rss_mb: this process's peak RSS. --export writes the model (dynamic batch,
opset 17) and exits.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'tests', 'fixtures'))
from zennit_bench import add_protocol_args, argmax_seed, ensure_environment, summarize, time_calls  # noqa: E402  (same protocol; imports no Zennit)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_protocol_args(parser)
    parser.add_argument('--export', help='write the ONNX model here and exit')
    return parser.parse_args()


def build():
    import torch
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16().eval()
    with torch.no_grad():
        model.heads.head.weight.normal_(0, 0.02)
    return model


def main():
    args = parse_args()
    if args.export:
        import torch
        model = build()
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), args.export, opset_version=17, input_names=['input'],
                          output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
        return
    ensure_environment(args)
    import torch
    torch.set_num_threads(args.threads)
    model = build()
    x = torch.randn(args.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)
    seed = argmax_seed(logits)

    def forward():
        with torch.no_grad():
            model(x)

    def input_times_gradient():
        xg = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(model(xg), xg, seed)
        return xg * g

    detail = {'forward': time_calls(forward, args.runs, args.warmup),
              'gradient': time_calls(input_times_gradient, args.runs, args.warmup)}
    from pytorch_reference import attnlrp_modules
    attnlrp_modules(model)
    detail['lrp'] = time_calls(input_times_gradient, args.runs, args.warmup)
    relevance = input_times_gradient()
    result = {'tool': 'pytorch (LXT efficient-mode AttnLRP)', 'model': 'vit_b_16', 'composite': 'attnlrp', 'batch': args.batch,
              'threads': args.threads, 'runs': args.runs, 'warmup': args.warmup}
    summarize(result, detail)
    result['relevance_sum_sample0'] = float(relevance[0].sum())
    print(f'pytorch vit_b_16 attnlrp batch {args.batch} threads {args.threads}: forward {result["forward_ms"]} ms, '
          f'gradient {result["gradient_ms"]} ms, AttnLRP {result["lrp_ms"]} ms, peak RSS {result["peak_rss_mb"]} MiB', flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
