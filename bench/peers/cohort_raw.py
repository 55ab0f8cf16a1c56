#!/usr/bin/python3
"""bench/peers/cohort_raw.py — turns the row-major X and y_bin that
bench/gen_cohort.py writes with --xmatrix (../shared/PEERS.md's `gen.py N P 1`
data) into PREFIX.X (column-major float64 n x p) and PREFIX.y (float64), the
raw form bench_elnet (design load:PREFIX) and bench/peers/r_glmnet.R read.
Invariant: the values are the file's, bit for bit; outputs via temporary + rename.

usage: cohort_raw.py PEERS.h5 PREFIX
"""
import os
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cohort_raw.py PEERS.h5 PREFIX")
    src, prefix = sys.argv[1], sys.argv[2]
    with h5py.File(src, "r") as f:
        x = f["X"]
        n, p = x.shape
        tmp = prefix + ".X.tmp.%d" % os.getpid()
        with open(tmp, "wb") as out:
            for j0 in range(0, p, 8):  # a few columns at a time: bounded memory
                np.ascontiguousarray(x[:, j0:j0 + 8].T, dtype="<f8").tofile(out)
        os.replace(tmp, prefix + ".X")
        tmp = prefix + ".y.tmp.%d" % os.getpid()
        f["y_bin"][...].astype("<f8").tofile(tmp)
        os.replace(tmp, prefix + ".y")
    print("cohort_raw: %s -> %s.X / .y (%d x %d)" % (src, prefix, n, p), file=sys.stderr)


if __name__ == "__main__":
    main()
