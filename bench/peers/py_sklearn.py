#!/usr/bin/python3
"""bench/peers/py_sklearn.py — scikit-learn peer: LogisticRegression (lbfgs, no
penalty, tol 1e-10, max_iter 10000) on the benchmark data; prints one JSON line
and writes the coefficients (estimates only: sklearn has no standard errors).
Invariant: fit_s is the LogisticRegression.fit call alone."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

from sklearn.linear_model import LogisticRegression  # noqa: E402


def main():
    ap = peerlib.parse_args(__doc__.split("\n")[0], ["binomial"])
    a = ap.parse_args()
    x, y, names, load_s = peerlib.load(a.data, a.source, a.family)
    m = LogisticRegression(penalty=None, solver="lbfgs", tol=1e-10, max_iter=10000)
    t0 = time.perf_counter()
    m.fit(x, y)
    fit_s = time.perf_counter() - t0
    iters = int(m.n_iter_[0])
    peerlib.write_coef(a.coef, ["(Intercept)"] + names,
                       [m.intercept_[0]] + list(m.coef_[0]))
    peerlib.report("sklearn LogReg lbfgs none", x, load_s, fit_s, iters, a.coef,
                   iters < 10000, "penalty=None tol=1e-10")


if __name__ == "__main__":
    main()
