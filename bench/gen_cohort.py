#!/usr/bin/python3
"""bench/gen_cohort.py — synthetic GLM benchmark data: a strata cohort v1 file
(one float64 column per feature x1..xp under /patients, outcomes from known
logistic / Poisson / Gamma models under /outcomes, ground truth under /truth)
and, optionally, the same X and outcomes as a row-major /X matrix for peers.
Invariant: the bytes of both files depend only on (n, p, seed): rows are drawn
in fixed 65536-row blocks, each from its own PCG64 stream keyed by (seed, block).

usage: gen_cohort.py N P SEED COHORT.h5 [--xmatrix PEERS.h5] [--layout contiguous|chunked]
"""
import argparse
import os
import sys

import h5py
import numpy as np

BLOCK = 65536          # rows per generation block (and per chunk when chunked)
PREVALENCE_ICPT = -2.5  # logistic intercept: ~6-8 % prevalence with sd(eta) ~ 1
POISSON_ICPT = -0.5     # Poisson intercept: mean count ~0.6
GAMMA_SHAPE = 2.0
GAMMA_ICPT = np.log(1000.0)  # Gamma(log) intercept: mean cost ~900


def truth(p):
    """Ground-truth slopes: alternating signs, magnitudes 0.1..0.5, scaled so the
    linear predictor's variance stays ~1 whatever p (x binary every 4th column)."""
    j = np.arange(1, p + 1)
    mag = 0.1 * (1 + (j - 1) % 5)
    sign = np.where(j % 2 == 1, 1.0, -1.0)
    beta = sign * mag
    return beta / np.sqrt(np.sum(beta ** 2 * np.where(j % 4 == 0, 0.21, 1.0)))


def block_rows(rng, m, p):
    """m x p row-major features: N(0,1), every 4th column Bernoulli(0.3) as 0/1."""
    x = rng.standard_normal((m, p))
    for j in range(3, p, 4):
        x[:, j] = (rng.random(m) < 0.3).astype(np.float64)
    return x


def make_dataset(grp, name, n, dtype, layout):
    kw = {"track_times": False}
    if layout == "chunked":
        kw["chunks"] = (min(BLOCK, max(n, 1)),)
    return grp.create_dataset(name, shape=(n,), dtype=dtype, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("p", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("cohort")
    ap.add_argument("--xmatrix", help="also write X (n x p row-major) and outcomes here")
    ap.add_argument("--layout", choices=["contiguous", "chunked"], default="contiguous")
    a = ap.parse_args()
    n, p = a.n, a.p
    if n < 1 or p < 1:
        sys.exit("gen_cohort.py: n and p must be positive")

    b = truth(p)
    b_gamma = 0.5 * b
    tmp = a.cohort + ".tmp.%d" % os.getpid()
    f = h5py.File(tmp, "w", libver="earliest", track_order=False)
    f.attrs["strata_schema"] = "strata-cohort"
    f.attrs["schema_version"] = np.int32(1)
    f.attrs["generator"] = "bench/gen_cohort.py"
    f.attrs["seed"] = str(a.seed)
    f.attrs["description"] = "GLM benchmark cohort n=%d p=%d seed=%d" % (n, p, a.seed)
    pat = f.create_group("patients")
    out = f.create_group("outcomes")
    pid = make_dataset(pat, "patient_id", n, "<i8", a.layout)
    pid.attrs["role"] = "patient_id"
    xs = [make_dataset(pat, "x%d" % (j + 1), n, "<f8", a.layout) for j in range(p)]
    ybin = make_dataset(out, "y_bin", n, "i1", a.layout)
    ycnt = make_dataset(out, "y_count", n, "<i4", a.layout)
    cost = make_dataset(out, "cost", n, "<f8", a.layout)
    cost.attrs["units"] = "GBP"

    g = None
    if a.xmatrix:
        xtmp = a.xmatrix + ".tmp.%d" % os.getpid()
        g = h5py.File(xtmp, "w", libver="earliest", track_order=False)
        g.attrs["description"] = "row-major X and outcomes of gen_cohort.py n=%d p=%d seed=%d" % (n, p, a.seed)
        gx = g.create_dataset("X", shape=(n, p), dtype="<f8", track_times=False)
        gy = g.create_dataset("y_bin", shape=(n,), dtype="i1", track_times=False)
        gc = g.create_dataset("y_count", shape=(n,), dtype="<i4", track_times=False)
        gk = g.create_dataset("cost", shape=(n,), dtype="<f8", track_times=False)

    tot = np.zeros(3)
    for blk, r0 in enumerate(range(0, n, BLOCK)):
        m = min(BLOCK, n - r0)
        rng = np.random.Generator(np.random.PCG64([a.seed, blk]))
        x = block_rows(rng, m, p)
        eta = x @ b
        yb = (rng.random(m) < 1.0 / (1.0 + np.exp(-(PREVALENCE_ICPT + eta)))).astype(np.int8)
        yc = rng.poisson(np.exp(POISSON_ICPT + eta)).astype(np.int32)
        mu_g = np.exp(GAMMA_ICPT + x @ b_gamma)
        yk = rng.gamma(GAMMA_SHAPE, mu_g / GAMMA_SHAPE)
        # pseudonymised, unique ids: an odd multiplier permutes 2^40 values
        ids = ((np.arange(r0, r0 + m, dtype=np.int64) * 0x9E3779B1 + 12345) % (1 << 40)) + 1
        sl = slice(r0, r0 + m)
        pid[sl] = ids
        for j in range(p):
            xs[j][sl] = np.ascontiguousarray(x[:, j])
        ybin[sl] = yb
        ycnt[sl] = yc
        cost[sl] = yk
        if g is not None:
            gx[sl, :] = x
            gy[sl] = yb
            gc[sl] = yc
            gk[sl] = yk
        tot += (yb.sum(), yc.sum(), yk.sum())

    # Ground truth, flat (SCHEMA.md; the v1 reader refuses groups under /truth):
    # term, beta (y_bin, logistic), beta_y_count (Poisson), beta_cost (Gamma, log).
    tr = f.create_group("truth")
    tr.create_dataset("term", data=np.array(["(Intercept)"] + ["x%d" % (j + 1) for j in range(p)],
                                            dtype=h5py.string_dtype("utf-8")), track_times=False)
    for dname, icpt, slopes in (("beta", PREVALENCE_ICPT, b), ("beta_y_count", POISSON_ICPT, b),
                                ("beta_cost", GAMMA_ICPT, b_gamma)):
        tr.create_dataset(dname, data=np.concatenate([[icpt], slopes]), track_times=False)
    f.close()
    os.chmod(tmp, 0o600)  # patient-level file (format doc), even when synthetic
    os.replace(tmp, a.cohort)
    if g is not None:
        g.close()
        os.chmod(xtmp, 0o600)
        os.replace(xtmp, a.xmatrix)
    print("gen_cohort: n=%d p=%d seed=%d y_bin prevalence %.4f, mean count %.3f, mean cost %.1f"
          % (n, p, a.seed, tot[0] / n, tot[1] / n, tot[2] / n), file=sys.stderr)


if __name__ == "__main__":
    main()
