#!/usr/bin/python3
"""bench/peers/py_saga.py — scikit-learn peer of bench/run_elnet.sh:
LogisticRegression(penalty="elasticnet", solver="saga") at ONE lambda on the
data bench_elnet dumped (PREFIX.X column-major float64 n x p, or PREFIX.ij the
(row, column) int32 pairs of a 0/1 design, as a CSR matrix; PREFIX.y). glmnet's
lambda maps to C = 1 / (n lambda), l1_ratio = alpha (../shared/PEERS.md's
setting: tol 1e-4, max_iter 200, random_state 0). saga fits one lambda, not a
path; its columns are not standardised (glmnet's and strata's are).
Prints one JSON line: fit wall and CPU seconds (the fit call alone), epochs,
non-zero coefficients, peak resident memory.

usage: py_saga.py PREFIX N P ALPHA LAMBDA
"""
import json
import os
import resource
import sys
import time

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression


def load(prefix, n, p):
    y = np.fromfile(prefix + ".y", dtype="<f8", count=n)
    if os.path.exists(prefix + ".ij"):
        ij = np.fromfile(prefix + ".ij", dtype="<i4").reshape(-1, 2)
        x = sparse.csr_matrix((np.ones(len(ij)), (ij[:, 0], ij[:, 1])), shape=(n, p))
    else:
        x = np.fromfile(prefix + ".X", dtype="<f8", count=n * p).reshape(p, n).T
    return x, y


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: py_saga.py PREFIX N P ALPHA LAMBDA")
    prefix, n, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    alpha, lam = float(sys.argv[4]), float(sys.argv[5])
    x, y = load(prefix, n, p)
    m = LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=alpha, C=1.0 / (n * lam),
                           tol=1e-4, max_iter=200, random_state=0)
    w0, c0 = time.perf_counter(), time.process_time()
    m.fit(x, y)
    fit_s, cpu_s = time.perf_counter() - w0, time.process_time() - c0
    print(json.dumps({"peer": "sklearn saga", "n": n, "p": p, "alpha": alpha, "lambda": lam,
                      "fit_s": round(fit_s, 3), "cpu_s": round(cpu_s, 3), "epochs": int(m.n_iter_[0]),
                      "nonzero": int(np.count_nonzero(m.coef_)),
                      "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
