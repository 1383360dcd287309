#!/usr/bin/python3
"""Time the original LRP Toolbox's python/numpy implementation (forward and epsilon-LRP) on the
same kind of input `lrp bench` uses, for the comparison in docs/PERFORMANCE.md.

The toolbox is not part of this repository: check out github.com/sebastian-lapuschkin/lrp_toolbox
and pass its python/ directory.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peers/toolbox_numpy_timing.py \\
        --toolbox /path/to/lrp_toolbox/python --model ../shared/data/lrp_toolbox/models/MNIST/LeNet-5.txt \\
        --batch 100 --runs 7 --json

Input: standard normal [B, 32, 32, 1] (seed 0); LRP from the predicted class's logit
(R = output * onehot(argmax)), rule 'epsilon' with parameter 0.01, as the toolbox demos do;
a trailing SoftMax is dropped first. Each timed call is one nn.forward(x) / one nn.lrp(R, ...)
on the whole batch (wall clock, time.perf_counter), median after --warmup untimed calls.
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--toolbox', required=True, help="the toolbox's python/ directory")
    p.add_argument('--model', required=True)
    p.add_argument('--batch', type=int, default=100)
    p.add_argument('--runs', type=int, default=7)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--rule', default='epsilon')
    p.add_argument('--param', type=float, default=0.01)
    p.add_argument('--json', action='store_true')
    a = p.parse_args()

    import numpy as np
    if not hasattr(np, 'float'):
        np.float = float  # removed alias the toolbox still uses (numpy >= 1.24)
    sys.path.insert(0, os.path.abspath(a.toolbox))
    import model_io  # noqa: E402  (the toolbox's own reader)

    nn = model_io.read(a.model)
    if type(nn.modules[-1]).__name__ == 'SoftMax':
        nn.modules = nn.modules[:-1]
    x = np.random.RandomState(0).standard_normal((a.batch, 32, 32, 1))

    def forward():
        return nn.forward(x)

    y = forward()
    mask = np.zeros_like(y)
    mask[np.arange(y.shape[0]), np.argmax(y, axis=1)] = 1
    r_init = y * mask

    def lrp():
        return nn.lrp(r_init, a.rule, a.param)

    def timed(f):
        for _ in range(a.warmup):
            f()
        ms = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            f()
            ms.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(ms), min(ms), max(ms)

    fwd = timed(forward)
    nn.forward(x)  # lrp() uses the activations of the last forward pass
    lrp_t = timed(lrp)
    out = {'tool': 'lrp_toolbox-numpy', 'model': os.path.basename(a.model), 'batch': a.batch, 'rule': a.rule,
           'param': a.param, 'runs': a.runs, 'forward_ms': fwd[0], 'forward_ms_min': fwd[1], 'lrp_only_ms': lrp_t[0],
           'lrp_only_ms_min': lrp_t[1], 'forward_plus_lrp_ms': fwd[0] + lrp_t[0],
           'threads': os.environ.get('OMP_NUM_THREADS', 'default'), 'numpy': np.__version__}
    print('forward %.2f ms (min %.2f), lrp %.2f ms (min %.2f)' % (fwd[0], fwd[1], lrp_t[0], lrp_t[1]))
    if a.json:
        print(json.dumps(out))


if __name__ == '__main__':
    main()
