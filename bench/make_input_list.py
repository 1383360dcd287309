#!/usr/bin/env python3
"""Writes COUNT standard-normal inputs of SHAPE as DIR/dN.npy and DIR/list.txt naming them, the
input of `lrp batch` in docs/PERFORMANCE.md (Batch runs over a file list)."""
import argparse
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shape", required=True, help="one input's shape with its batch axis, e.g. 1,1,28,28 (NCHW) or 1,32,32,1")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="folder to create")
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.shape.split(","))
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    with open(os.path.join(a.out, "list.txt"), "w") as f:
        for i in range(a.count):
            np.save(os.path.join(a.out, f"d{i}.npy"), rng.standard_normal(shape).astype(np.float32))
            f.write(f"d{i}.npy\n")


if __name__ == "__main__":
    main()
