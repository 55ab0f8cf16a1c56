"""bench/peers/peerlib.py — shared by the Python peer runners: timed loading of X
and an outcome (from the row-major /X file of gen_cohort.py --xmatrix, or from
the cohort's columns), the coefficient CSV in `strata coef --csv` layout, and the
one-line JSON result. Invariant: load time covers only reading into the numpy
arrays the fit uses; interpreter start and imports are outside it."""
import argparse
import csv
import json
import os
import resource
import sys
import time

import h5py
import numpy as np

CSV_HEADER = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
OUTCOME = {"binomial": "y_bin", "poisson": "y_count", "gamma": "cost"}


def parse_args(desc, families):
    ap = argparse.ArgumentParser(description=desc)
    ap.add_argument("data", help="peers .h5 with /X (n x p) or a strata cohort (--source cohort)")
    ap.add_argument("--source", choices=["xmatrix", "cohort"], default="xmatrix")
    ap.add_argument("--family", choices=families, default=families[0])
    ap.add_argument("--coef", required=True, help="coefficient CSV to write")
    return ap


def load(path, source, family):
    """Returns (X float64 C-order n x p, y float64, names, seconds)."""
    t0 = time.perf_counter()
    yname = OUTCOME[family]
    with h5py.File(path, "r") as f:
        if source == "xmatrix":
            d = f["X"]
            x = np.empty(d.shape, dtype=np.float64)
            d.read_direct(x)
            y = f[yname][...].astype(np.float64)
        else:
            names = sorted((k for k in f["patients"] if k[0] == "x" and k[1:].isdigit()),
                           key=lambda k: int(k[1:]))
            n = f["patients"][names[0]].shape[0]
            x = np.empty((n, len(names)), dtype=np.float64)
            col = np.empty(n, dtype=np.float64)
            for j, k in enumerate(names):
                f["patients"][k].read_direct(col)
                x[:, j] = col
            y = f["outcomes"][yname][...].astype(np.float64)
    names = ["x%d" % (j + 1) for j in range(x.shape[1])]
    return x, y, names, time.perf_counter() - t0


def write_coef(path, terms, est, se=None, stat=None, pval=None, ci=None):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADER)
        for i, t in enumerate(terms):
            row = [t, repr(float(est[i]))]
            for v in (se, stat, pval):
                row.append("" if v is None else repr(float(v[i])))
            row += ["", ""] if ci is None else [repr(float(ci[i][0])), repr(float(ci[i][1]))]
            w.writerow(row)


def report(peer, x, load_s, fit_s, iters, coef, converged=None, note=""):
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "peer": peer, "n": int(x.shape[0]), "p": int(x.shape[1]),
        "load_s": round(load_s, 4), "fit_s": round(fit_s, 4), "iters": iters,
        "converged": converged, "coef": os.path.abspath(coef),
        "max_rss_mb": round(ru.ru_maxrss / 1024.0, 1), "note": note}))
    sys.stdout.flush()
