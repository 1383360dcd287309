#!/usr/bin/python3
"""Time LRP through an LSTM classifier in PyTorch, beside `lrp bench MODEL --composite epsilon`.
No LRP library for PyTorch handles nn.LSTM (Zennit, Captum's LRP and LXT do not); what a PyTorch
user has is Arras et al.'s rule written out as a per-step loop, here as input x gradient with the
gates detached (tests/fixtures/lstm/make_fixtures.py and recurrent_reference.py, the construction
of the test reference), run in float32.

    /usr/bin/python3 bench/peers/recurrent_bench.py --export build/peer_models/lstm.onnx
    /usr/bin/python3 bench/peers/recurrent_bench.py --batch 1 --runs 20 --warmup 3 --threads 2 --json

The network: a 2-layer bidirectional nn.LSTM(128, 256, batch_first=True) over 100 steps, its last
step's output into Linear(512, 10) (1.9M parameters), random weights (manual_seed(0)), input randn
from Generator().manual_seed(0). Protocol as zennit_bench.py: torch.set_num_threads(T), float32,
tuned glibc malloc unless --default-malloc; seed one-hot(argmax) x logit. forward_ms: model(x)
under no_grad (PyTorch's fused LSTM); gradient_ms: forward + backward of the seed through it;
lrp_ms: the step-by-step loop with the LRP backward, times the input. Medians over --runs calls
after --warmup; peak_rss_mb: this process's peak RSS. --export writes the model (dynamic batch,
opset 13) and exits.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'tests', 'fixtures')
sys.path.insert(0, HERE)
sys.path.insert(0, FIXTURES)
sys.path.insert(0, os.path.join(FIXTURES, 'lstm'))
from zennit_bench import add_protocol_args, argmax_seed, ensure_environment, summarize, time_calls  # noqa: E402  (imports no Zennit)

STEPS, FEATURES, HIDDEN, CLASSES = 100, 128, 256, 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_protocol_args(parser)
    parser.add_argument('--export', help='write the ONNX model here and exit')
    return parser.parse_args()


def build():
    import torch
    import torch.nn as nn
    from make_fixtures import Net  # the LSTM classifier of the test fixtures, with its LRP loop
    torch.manual_seed(0)
    return Net(nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True, batch_first=True), nn.Linear(2 * HIDDEN, CLASSES),
               lambda out, h: out[:, -1]).eval()


def main():
    args = parse_args()
    import torch
    if args.export:
        torch.onnx.export(build(), torch.randn(1, STEPS, FEATURES), args.export, opset_version=13, input_names=['input'],
                          output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
        return
    ensure_environment(args)
    torch.set_num_threads(args.threads)
    model = build()
    x = torch.randn(args.batch, STEPS, FEATURES, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)
    seed = argmax_seed(logits)

    def forward():
        with torch.no_grad():
            model(x)

    def input_times_gradient(fn):
        xg = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(fn(xg), xg, seed)
        return xg * g

    detail = {'forward': time_calls(forward, args.runs, args.warmup),
              'gradient': time_calls(lambda: input_times_gradient(model), args.runs, args.warmup),
              'lrp': time_calls(lambda: input_times_gradient(lambda xg: model.lrp_forward(xg, 1e-6)), args.runs, args.warmup)}
    result = {'tool': 'pytorch (Arras et al. LSTM rule as a per-step loop)', 'model': 'lstm', 'composite': 'epsilon', 'batch': args.batch,
              'threads': args.threads, 'runs': args.runs, 'warmup': args.warmup}
    summarize(result, detail)
    print(f'pytorch lstm epsilon batch {args.batch} threads {args.threads}: forward {result["forward_ms"]} ms, '
          f'gradient {result["gradient_ms"]} ms, LRP {result["lrp_ms"]} ms, peak RSS {result["peak_rss_mb"]} MiB', flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
