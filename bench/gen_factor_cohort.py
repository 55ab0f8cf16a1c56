#!/usr/bin/python3
"""bench/gen_factor_cohort.py — synthetic factor-heavy GLM benchmark cohort: a
strata cohort v1 file with a practice factor of L levels (int16 codes + levels
table, practice sizes skewed as England's), P numeric columns x1..xP ~ N(0,1)
and a binary outcome y_bin from a logistic model with a N(0, 0.3) practice
effect. Invariant: the bytes depend only on (n, L, P, seed).

usage: gen_factor_cohort.py N LEVELS P SEED COHORT.h5
"""
import os
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    n, L, p, seed = (int(v) for v in sys.argv[1:5])
    path = sys.argv[5]
    rng = np.random.Generator(np.random.PCG64(seed))
    size = rng.lognormal(0.0, 0.6, L)                  # practice list sizes
    practice = rng.choice(L, size=n, p=size / size.sum()).astype(np.int16)
    x = rng.standard_normal((p, n))
    beta = 0.3 * np.where(np.arange(p) % 2 == 0, 1.0, -1.0) / np.sqrt(p) * 2
    u = rng.normal(0.0, 0.3, L)
    eta = -2.5 + beta @ x + u[practice]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    tmp = path + ".tmp.%d" % os.getpid()
    with h5py.File(tmp, "w", libver="earliest") as f:
        f.attrs["strata_schema"] = "strata-cohort"
        f.attrs["schema_version"] = np.int32(1)
        f.attrs["generator"] = "bench/gen_factor_cohort.py"
        f.attrs["description"] = "factor GLM benchmark n=%d practices=%d p=%d seed=%d" % (n, L, p, seed)
        pat = f.create_group("patients")
        pat.create_dataset("patient_id", data=np.arange(1, n + 1, dtype=np.int64)).attrs["role"] = "patient_id"
        d = pat.create_dataset("practice", data=practice)
        f.create_dataset("/dict/practice", data=["P%05d" % k for k in range(L)], dtype=h5py.string_dtype())
        d.attrs["levels"] = "/dict/practice"
        for j in range(p):
            pat.create_dataset("x%d" % (j + 1), data=x[j])
        f.create_group("outcomes").create_dataset("y_bin", data=y)
    os.replace(tmp, path)
    print("gen_factor_cohort: n=%d practices=%d (observed %d) p=%d prevalence %.4f"
          % (n, L, len(np.unique(practice)), p, y.mean()), file=sys.stderr)


if __name__ == "__main__":
    main()
