#!/usr/bin/python3
"""bench/gen_surv.py — synthetic Cox benchmark data: gen_cohort.py's features (the
same x1..xp bytes, from the same per-block streams) with a Weibull proportional-
hazards outcome in whole days, as a strata cohort (/outcomes/time_days float64,
/outcomes/event int8) and, optionally, the row-major /X matrix with time_days and
event for the peers. h(t | x) = (k / lam) (t / lam)^(k-1) exp(x'b), k = 1.3,
lam = 1000 days; censoring at min(1826, U(0, 6000)) days: ~30 % censored and
~1,800 distinct event days, so Efron's ties matter. Invariant: the bytes depend
only on (n, p, seed); survival draws come from their own stream per block.

usage: gen_surv.py N P SEED COHORT.h5 [--xmatrix PEERS.h5]
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_cohort import BLOCK, block_rows, make_dataset, truth  # noqa: E402

SHAPE, SCALE, FOLLOWUP, LOSS = 1.3, 1000.0, 1826.0, 6000.0
SURV_STREAM = 7  # survival draws: PCG64([seed, block, 7]), apart from the features' stream


def surv_block(seed, blk, eta):
    rng = np.random.Generator(np.random.PCG64([seed, blk, SURV_STREAM]))
    m = eta.shape[0]
    t = SCALE * (-np.log(rng.random(m)) / np.exp(eta)) ** (1.0 / SHAPE)
    c = np.minimum(FOLLOWUP, rng.uniform(0.0, LOSS, m))
    return np.ceil(np.minimum(t, c)), (t <= c).astype(np.int8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("p", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("cohort")
    ap.add_argument("--xmatrix")
    a = ap.parse_args()
    n, p = a.n, a.p
    b = truth(p)
    tmp = a.cohort + ".tmp.%d" % os.getpid()
    f = h5py.File(tmp, "w", libver="earliest", track_order=False)
    f.attrs["strata_schema"] = "strata-cohort"
    f.attrs["schema_version"] = np.int32(1)
    f.attrs["generator"] = "bench/gen_surv.py"
    f.attrs["seed"] = str(a.seed)
    f.attrs["description"] = "Cox benchmark cohort n=%d p=%d seed=%d" % (n, p, a.seed)
    pat, out = f.create_group("patients"), f.create_group("outcomes")
    pid = make_dataset(pat, "patient_id", n, "<i8", "contiguous")
    pid.attrs["role"] = "patient_id"
    xs = [make_dataset(pat, "x%d" % (j + 1), n, "<f8", "contiguous") for j in range(p)]
    td = make_dataset(out, "time_days", n, "<f8", "contiguous")
    ev = make_dataset(out, "event", n, "i1", "contiguous")
    g = None
    if a.xmatrix:
        xtmp = a.xmatrix + ".tmp.%d" % os.getpid()
        g = h5py.File(xtmp, "w", libver="earliest", track_order=False)
        gx = g.create_dataset("X", shape=(n, p), dtype="<f8", track_times=False)
        gt = g.create_dataset("time_days", shape=(n,), dtype="<f8", track_times=False)
        ge = g.create_dataset("event", shape=(n,), dtype="i1", track_times=False)
    events = 0
    for blk, r0 in enumerate(range(0, n, BLOCK)):
        m = min(BLOCK, n - r0)
        x = block_rows(np.random.Generator(np.random.PCG64([a.seed, blk])), m, p)
        t, e = surv_block(a.seed, blk, x @ b)
        sl = slice(r0, r0 + m)
        pid[sl] = ((np.arange(r0, r0 + m, dtype=np.int64) * 0x9E3779B1 + 12345) % (1 << 40)) + 1
        for j in range(p):
            xs[j][sl] = np.ascontiguousarray(x[:, j])
        td[sl], ev[sl] = t, e
        if g is not None:
            gx[sl, :], gt[sl], ge[sl] = x, t, e
        events += int(e.sum())
    tr = f.create_group("truth")
    tr.create_dataset("term", data=np.array(["x%d" % (j + 1) for j in range(p)],
                                            dtype=h5py.string_dtype("utf-8")), track_times=False)
    tr.create_dataset("beta_cox", data=b, track_times=False)
    f.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, a.cohort)
    if g is not None:
        g.close()
        os.chmod(xtmp, 0o600)
        os.replace(xtmp, a.xmatrix)
    print("gen_surv: n=%d p=%d seed=%d events %.1f %%" % (n, p, a.seed, 100.0 * events / n), file=sys.stderr)


if __name__ == "__main__":
    main()
