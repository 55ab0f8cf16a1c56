#!/usr/bin/python3
"""bench/peers/sm_glm_diabetes.py — statsmodels GLM (IRLS, binomial) on the UCI
diabetes golden model (data/golden/glm/make_glm.R's dia_logit), the Python twin
of r_glm_diabetes.R for bench/run_glm_factor.sh. The same data preparation as
the R script (na strings, factor levels sorted, Caucasian the race reference,
Harrell's rcs(num_medications, 4) evaluated before the timed call); the timed
part is building the model matrix from the formula (patsy) and the fit, as R's
glm() call does both. Prints key=value timings (read_s, fit_s: model matrix and
fit; irls_s: the fit alone) and writes the coefficients, %.17g, in R's order.

usage: sm_glm_diabetes.py DIABETIC_DATA.CSV COEF_OUT.csv
"""
import sys
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    t0 = time.perf_counter()
    dia = pd.read_csv(sys.argv[1], na_values=["?", "NA", "", "Unknown/Invalid"], keep_default_na=False,
                      low_memory=False)
    dia["readmit30"] = (dia["readmitted"] == "<30").astype(np.int64)
    kn = np.quantile(dia["num_medications"].dropna(), [.05, .35, .65, .95])  # R's type 7
    kd = (kn[3] - kn[0]) ** (2 / 3)
    x = dia["num_medications"].to_numpy(float)

    def cub(t):
        return np.maximum((x - t) / kd, 0) ** 3
    for j in range(2):
        dia[f"nm_rcs{j + 1}"] = cub(kn[j]) + ((kn[2] - kn[j]) * cub(kn[3]) - (kn[3] - kn[j]) * cub(kn[2])) / (kn[3] - kn[2])
    t1 = time.perf_counter()
    fit = smf.glm("readmit30 ~ C(race, Treatment('Caucasian')) + gender + age + num_medications + nm_rcs1 + nm_rcs2"
                  " + number_inpatient * gender + np.log1p(number_emergency) + A1Cresult",
                  data=dia, family=sm.families.Binomial(), missing="drop")
    t2 = time.perf_counter()
    res = fit.fit()
    t3 = time.perf_counter()
    with open(sys.argv[2], "w") as f:
        f.write("term,estimate\n")
        # R's column order (terms as written, a factor's levels together, the interaction last)
        order = ["Intercept", "race", "gender[", "age[", "num_medications", "nm_rcs1", "nm_rcs2", "number_inpatient",
                 "np.log1p", "A1Cresult", "number_inpatient:"]
        key = [max(i for i, o in enumerate(order) if name.startswith(o) or (o != "Intercept" and f"({o}" in name))
               for name in res.params.index]
        for _, name, v in sorted(zip(key, res.params.index, res.params.values), key=lambda t: t[0]):
            f.write(f"{name.replace(',', ';')},{v!r}\n")
    print(f"read_s={t1 - t0:.3f} fit_s={t3 - t1:.3f} irls_s={t3 - t2:.3f} iter={res.fit_history['iteration']} "
          f"n={int(res.nobs)} p={len(res.params)}")


if __name__ == "__main__":
    main()
