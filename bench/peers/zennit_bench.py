#!/usr/bin/python3
"""Time Zennit (forward, gradient, LRP) on one model/composite/batch, per the protocol of
shared/design/zennit_and_peers.md §4.

    PYTHONPATH=/tmp/zennit/src /usr/bin/python3 bench/peers/zennit_bench.py --model vgg16 \
        --composite epsilon_plus_flat --batch 1 --runs 5 --warmup 1 --threads 2 --json

Protocol: torch.set_num_threads(T), eval mode, float32, random weights (peer_models.build:
manual_seed(0)), input randn from Generator().manual_seed(0); the LRP seed is
one-hot(argmax) x logit; the composite (+ VGGCanonizer for vgg16, ResNetCanonizer for
resnet50, none for mlp/mnist_cnn) is registered once; every timed call is a full Zennit
attributor call:
  forward_ms   model(x) under torch.no_grad()
  gradient_ms  zennit.attribution.Gradient(model)(x, seed)             (forward + backward)
  lrp_ms       Gradient(model, composite)(x, seed), composite registered once beforehand
Each is the median over --runs calls after --warmup untimed calls, in ms per call for the
whole batch. peak_rss_mb = getrusage(RUSAGE_SELF).ru_maxrss of this process (MiB), i.e. the
peak over all three phases (LRP dominates), including ~300 MiB of Python + torch.

Allocator: unless --default-malloc is given, the script re-executes itself with
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 (glibc keeps freed blocks instead of
unmapping them; without it PyTorch is page-fault bound on large batches, §4) and
OMP_NUM_THREADS=T. The last stdout line is a JSON object with --json.

Composite specs: epsilon_plus_flat, epsilon_plus, epsilon_alpha2_beta1,
epsilon_alpha2_beta1_flat, epsilon (LRP-epsilon everywhere), epsilon_gamma_box:LOW,HIGH
(e.g. epsilon_gamma_box:-3,3); all with epsilon = stabilizer = 1e-6.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TUNED_MALLOC = {'MALLOC_MMAP_MAX_': '0', 'MALLOC_TRIM_THRESHOLD_': '68719476736'}


def add_protocol_args(parser):
    """The options every peer benchmark shares: batch, runs, warm-up, threads, JSON, allocator."""
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--json', action='store_true', help='print a JSON object as the last stdout line')
    parser.add_argument('--default-malloc', action='store_true', help='do not tune glibc malloc')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, help='mlp, mnist_cnn, vgg16 or resnet50')
    parser.add_argument('--composite', default='epsilon_plus_flat')
    add_protocol_args(parser)
    parser.add_argument('--zennit-src', default=os.environ.get('ZENNIT_SRC'),
                        help='directory that contains the zennit package (else PYTHONPATH)')
    parser.add_argument('--skip', default='', help='comma list of phases not to time: forward,gradient')
    return parser.parse_args()


def ensure_environment(args):
    want = {} if args.default_malloc else dict(TUNED_MALLOC)
    want['OMP_NUM_THREADS'] = str(args.threads)
    if all(os.environ.get(k) == v for k, v in want.items()) or os.environ.get('LRP_ZENNIT_BENCH_CHILD'):
        return
    env = dict(os.environ, LRP_ZENNIT_BENCH_CHILD='1', **want)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def make_composite(spec, canonizers):
    from zennit.composites import (EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus,
                                   EpsilonPlusFlat, LayerMapComposite, layer_map_base)
    from zennit.rules import Epsilon
    from zennit.types import Linear
    name, _, params = spec.partition(':')
    kw = dict(epsilon=1e-6, stabilizer=1e-6, canonizers=canonizers)
    if name == 'epsilon_plus_flat':
        return EpsilonPlusFlat(**kw)
    if name == 'epsilon_plus':
        return EpsilonPlus(**kw)
    if name == 'epsilon_alpha2_beta1':
        return EpsilonAlpha2Beta1(**kw)
    if name == 'epsilon_alpha2_beta1_flat':
        return EpsilonAlpha2Beta1Flat(**kw)
    if name == 'epsilon_gamma_box':
        low, high = (float(v) for v in (params or '-3,3').split(','))
        return EpsilonGammaBox(low=low, high=high, gamma=0.25, **kw)
    if name == 'epsilon':
        return LayerMapComposite(layer_map=layer_map_base(1e-6) + [(Linear, Epsilon(epsilon=1e-6))],
                                 canonizers=canonizers)
    raise SystemExit(f'zennit_bench.py: unknown composite spec {spec!r}')


def canonizers_for(model_name):
    from zennit.torchvision import ResNetCanonizer, VGGCanonizer
    return {'vgg16': [VGGCanonizer()], 'resnet50': [ResNetCanonizer()]}.get(model_name, [])


def time_calls(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def argmax_seed(logits):
    """The backward's seed: each row's largest logit (one-hot(argmax) x logit), zeros elsewhere."""
    import torch
    seed = torch.zeros_like(logits)
    rows = torch.arange(logits.shape[0])
    best = logits.argmax(1)
    seed[rows, best] = logits[rows, best]
    return seed


def summarize(result, detail):
    """Adds to `result` each phase's median and minimum (PHASE_ms, PHASE_min_ms, rounded) from
    `detail` {phase: times in ms}, this process's peak RSS and the torch version."""
    import torch
    for phase, times in detail.items():
        result[f'{phase}_ms'] = round(statistics.median(times), 4)
        result[f'{phase}_min_ms'] = round(min(times), 4)
    result['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    result['torch'] = torch.__version__
    return result


def zennit_commit(zennit_module):
    src = os.path.dirname(os.path.dirname(os.path.abspath(zennit_module.__file__)))
    try:
        out = subprocess.run(['git', '-C', src, 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                             check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get('ZENNIT_COMMIT', 'unknown')


def main():
    args = parse_args()
    ensure_environment(args)
    if args.zennit_src:
        sys.path.insert(0, args.zennit_src)
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'fixtures', 'zennit_modern'))
    import shim  # noqa: F401  (torch 1.13 support for Zennit 1.0; must precede zennit)
    import torch
    try:
        import zennit
        from zennit.attribution import Gradient
    except ImportError as exc:
        raise SystemExit(f'zennit_bench.py: cannot import zennit ({exc}); pass --zennit-src or set PYTHONPATH')
    import peer_models

    torch.set_num_threads(args.threads)
    model = peer_models.build(args.model)
    x = peer_models.bench_input(args.model, args.batch)
    with torch.no_grad():
        logits = model(x)
    seed = argmax_seed(logits)
    skip = set(filter(None, args.skip.split(',')))

    def forward():
        with torch.no_grad():
            model(x)

    gradient_attributor = Gradient(model=model)
    result = {'tool': 'zennit', 'model': args.model, 'composite': args.composite, 'batch': args.batch,
              'threads': args.threads, 'runs': args.runs, 'warmup': args.warmup}
    detail = {}
    if 'forward' not in skip:
        detail['forward'] = time_calls(forward, args.runs, args.warmup)
    if 'gradient' not in skip:
        detail['gradient'] = time_calls(lambda: gradient_attributor(x, seed), args.runs, args.warmup)

    composite = make_composite(args.composite, canonizers_for(args.model))
    lrp_attributor = Gradient(model=model, composite=composite)
    with lrp_attributor:  # registers canonizers + rules once
        detail['lrp'] = time_calls(lambda: lrp_attributor(x, seed), args.runs, args.warmup)
        _, relevance = lrp_attributor(x, seed)

    for phase in ('forward', 'gradient', 'lrp'):
        times = detail.get(phase)
        result[f'{phase}_ms'] = round(statistics.median(times), 4) if times else None
        result[f'{phase}_min_ms'] = round(min(times), 4) if times else None
    result['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    result['relevance_sum_sample0'] = float(relevance[0].sum())
    result['malloc'] = 'default' if args.default_malloc else 'tuned (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_=64GiB)'
    result['zennit'] = zennit_commit(zennit)
    result['torch'] = torch.__version__
    result['host'] = platform.node()

    print(f'zennit {args.model} {args.composite} batch {args.batch} threads {args.threads}: '
          f'forward {result["forward_ms"]} ms, gradient {result["gradient_ms"]} ms, LRP {result["lrp_ms"]} ms '
          f'(medians of {args.runs} after {args.warmup} warm-up), peak RSS {result["peak_rss_mb"]} MiB', flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
