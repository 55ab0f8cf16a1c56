#!/usr/bin/python3
"""bench/peers/py_statsmodels.py — statsmodels peer: GLM (IRLS) or Logit (Newton)
on the benchmark data; prints one JSON line (peer, n, p, load_s, fit_s, iters,
coef file, max RSS) and writes the coefficients in `strata coef --csv` layout.
Invariant: fit_s covers add_constant (the design-matrix copy) plus the fit call."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

import statsmodels.api as sm  # noqa: E402


def main():
    ap = peerlib.parse_args(__doc__.split("\n")[0], ["binomial", "poisson", "gamma"])
    ap.add_argument("--model", choices=["glm", "logit"], default="glm")
    a = ap.parse_args()
    if a.model == "logit" and a.family != "binomial":
        sys.exit("py_statsmodels.py: --model logit needs --family binomial")
    x, y, names, load_s = peerlib.load(a.data, a.source, a.family)
    t0 = time.perf_counter()
    xc = sm.add_constant(x, prepend=True, has_constant="add")
    if a.model == "logit":
        res = sm.Logit(y, xc).fit(method="newton", disp=0, maxiter=100)
        iters, conv = int(res.mle_retvals["iterations"]), bool(res.mle_retvals["converged"])
        peer, note = "statsmodels Logit (Newton)", "method=newton"
    else:
        fam = {"binomial": sm.families.Binomial(),
               "poisson": sm.families.Poisson(),
               "gamma": sm.families.Gamma(sm.families.links.log())}[a.family]
        res = sm.GLM(y, xc, family=fam).fit()
        iters, conv = int(res.fit_history["iteration"]), bool(res.converged)
        peer, note = "statsmodels GLM %s" % a.family, "IRLS"
    fit_s = time.perf_counter() - t0
    peerlib.write_coef(a.coef, ["(Intercept)"] + names, res.params, res.bse, res.tvalues,
                       res.pvalues, res.conf_int(0.05))
    peerlib.report(peer, x, load_s, fit_s, iters, a.coef, conv, note)


if __name__ == "__main__":
    main()
