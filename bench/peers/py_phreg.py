#!/usr/bin/python3
"""bench/peers/py_phreg.py — statsmodels PHReg peer for bench/run_cox.sh: loads the
row-major /X, time_days and event of gen_surv.py --xmatrix, fits
PHReg(time, X, status=event, ties="efron") and prints one JSON line (peer, n, p,
load_s, fit_s, iters, coef file, max RSS); writes term, estimate, std_error.
Invariant: load_s is the HDF5 read into numpy; fit_s the model build and fit."""
import argparse
import csv
import json
import os
import resource
import time

import h5py
import numpy as np
import statsmodels
from statsmodels.duration.hazard_regression import PHReg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    ap.add_argument("--coef", required=True)
    ap.add_argument("--ties", choices=["efron", "breslow"], default="efron")
    a = ap.parse_args()
    t0 = time.perf_counter()
    with h5py.File(a.data, "r") as f:
        x = np.empty(f["X"].shape, dtype=np.float64)
        f["X"].read_direct(x)
        t = f["time_days"][...].astype(np.float64)
        e = f["event"][...].astype(np.float64)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = PHReg(t, x, status=e, ties=a.ties).fit()
    fit_s = time.perf_counter() - t1
    names = ["x%d" % (j + 1) for j in range(x.shape[1])]
    with open(a.coef, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["term", "estimate", "std_error"])
        for j, nm in enumerate(names):
            w.writerow([nm, repr(float(res.params[j])), repr(float(res.bse[j]))])
    iters = res.mle_retvals.get("iterations") if hasattr(res, "mle_retvals") else None
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"peer": "statsmodels PHReg", "n": int(x.shape[0]), "p": int(x.shape[1]),
                      "load_s": round(load_s, 4), "fit_s": round(fit_s, 4), "iters": iters,
                      "loglik": float(res.llf), "coef": os.path.abspath(a.coef),
                      "max_rss_mb": round(ru.ru_maxrss / 1024.0, 1),
                      "note": "ties=%s, statsmodels %s" % (a.ties, statsmodels.__version__)}))


if __name__ == "__main__":
    main()
