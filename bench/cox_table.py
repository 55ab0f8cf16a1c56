#!/usr/bin/python3
"""bench/cox_table.py — turns one bench/run_cox.sh run (its work directory: roofline
JSON, run.json, per run <tag>_<runner>_r<k>.json / .time / .rc / .skip and coef CSVs)
into the markdown table: fit seconds, Newton iterations, seconds per evaluation
against the Gram bound of the same run, peak RSS against the bytes of X, max
|beta - R coxph beta|, and strata's speed-up over each peer.
Invariant: every figure printed comes from files of this run; nothing is assumed.

usage: cox_table.py WORKDIR [--append docs/benchmarks.md]
"""
import argparse
import csv
import glob
import json
import math
import os
import re

LABEL = {"strata": "strata (models/cox)", "r_coxph": "R coxph", "sm_phreg": "statsmodels PHReg"}


def fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def time_v(path):
    out = {}
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            line = line.strip()
            if line.startswith("Maximum resident set size"):
                out["rss_mb"] = int(line.split(":")[-1]) / 1024.0
            elif line.startswith("Percent of CPU"):
                out["cpu"] = line.split(":")[-1].strip()
    return out


def record(base):
    """One run's JSON line and /usr/bin/time figures, or why there is none."""
    if os.path.exists(base + ".skip"):
        return {"note": open(base + ".skip").read().strip()}
    lines = [ln for ln in open(base + ".json", errors="replace").read().splitlines()
             if ln.startswith("{")] if os.path.exists(base + ".json") else []
    if not lines:
        rc = open(base + ".rc").read().strip() if os.path.exists(base + ".rc") else "?"
        err = open(base + ".err", errors="replace").read().strip().splitlines() \
            if os.path.exists(base + ".err") else []
        why = "timed out" if rc == "124" else "failed (exit %s)" % rc
        return {"note": "%s: %s" % (why, (err[-1] if err else "no output")[:120])}
    r = json.loads(lines[-1])
    r.update(time_v(base + ".time"))
    r["coef_path"] = base + ".coef.csv"
    return r


def best(recs):
    ok = [r for r in recs if r.get("fit_s") is not None]
    if not ok:
        return recs[0] if recs else {"note": "not run"}
    b = dict(min(ok, key=lambda r: r["fit_s"]))
    if len(ok) > 1:
        b["note"] = ("fastest of %d (%s s)" % (len(ok), ", ".join("%.2f" % r["fit_s"] for r in ok)) +
                     ("; " + b["note"] if b.get("note") else ""))
    return b


def coefs(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, newline="") as fh:
        return {r["term"]: float(r["estimate"]) for r in csv.DictReader(fh)}


def max_diff(a, b):
    if not a or not b or set(a) != set(b):
        return None
    return max(abs(a[t] - b[t]) for t in a)


def table(run):
    meta = json.load(open(os.path.join(run, "run.json")))
    roof = json.load(open(os.path.join(run, "roofline.json")))
    end = open(os.path.join(run, "loadavg_end")).read().strip() \
        if os.path.exists(os.path.join(run, "loadavg_end")) else "?"
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    out = ["### Cox PH (Efron ties), %s" % meta["date"], "",
           "Machine: %s, %d cores, %d threads; OpenBLAS `%s` (core %s), OPENBLAS_CORETYPE=%s "
           "OPENBLAS_L2_SIZE=%s; load average %s at the start, %s at the end (2 cores: above 2 the "
           "figures are slowed by other jobs); git %s; `%s`." % (
               cpu, os.cpu_count(), meta["threads"], roof["openblas_config"], roof["openblas_core"],
               meta["coretype"] or "unset", meta["l2"] or "unset", meta["loadavg_start"], end,
               meta["git"], meta["command"]),
           "Roofline of this run: DGEMM %.1f GFLOP/s (%d threads), best read %.1f GB/s." % (
               roof["peak_gflops"], meta["threads"], roof["best_read_gbs"]), "",
           "| n | p | runner | fit s | Newton iters (evaluations) | s / evaluation | x practical Gram "
           "bound | x ideal bound | peak RSS MB | RSS / X | max abs beta diff vs R | strata faster by | note |",
           "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for sz in roof["sizes"]:
        n, p = sz["n"], sz["p"]
        tag = "n%d_p%d" % (n, p)
        recs = {}
        for key in ("strata", "r_coxph", "sm_phreg"):
            files = sorted(set(re.sub(r"\.(json|skip|rc|time|err)$", "", f) for f in
                               glob.glob(os.path.join(run, "%s_%s_r*.*" % (tag, key)))
                               if not f.endswith(".csv")))
            if files:
                recs[key] = best([record(f) for f in files])
        ref = coefs(recs.get("r_coxph", {}).get("coef_path"))
        st = recs.get("strata", {})
        x_mb = n * p * 8 / 1048576.0
        for key, r in recs.items():
            evals = r.get("evals")
            per = r.get("s_per_eval") if key == "strata" else (
                r["fit_s"] / (r["iters"] + 1) if r.get("fit_s") and r.get("iters") else None)
            rss = r.get("rss_mb") or r.get("max_rss_mb")
            speed = (r["fit_s"] / st["fit_s"]) if key != "strata" and r.get("fit_s") and st.get("fit_s") else None
            it = "%s (%s)" % (r.get("iters", "-"), evals) if evals else fmt(r.get("iters"), "")
            note = r.get("note", "")
            if key == "strata" and r.get("fit_s") is not None:
                note = ("sort+layout %.2f s, Newton %.2f s, rest %.2f s; cohort read (not in fit s) %.2f s; " % (
                    r["sort_s"], r["newton_s"], r["post_s"], r["load_s"]) + note).strip("; ")
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                format(n, ","), p, LABEL[key], fmt(r.get("fit_s"), ".2f"), it,
                fmt(per, ".4f"), fmt(per and per * 1000 / sz["practical_ms"], ".1f"),
                fmt(per and per * 1000 / sz["bound_ms"], ".1f"), fmt(rss, ".0f"),
                fmt(rss and rss / x_mb, ".2f"), fmt(max_diff(coefs(r.get("coef_path")), ref), ".1e"),
                fmt(speed, ".1f") + ("x" if speed else ""), note))
    out += ["", "s / evaluation: strata's Newton time over its likelihood evaluations (each: eta, "
            "risk-set sums, one weighted Gram); for the peers fit time / (iterations + 1), which "
            "also holds their setup. Gram bound per evaluation from the roofline of the same run: "
            "practical = Gram at the best measured DSYRK + one read of X, ideal = max(Gram at DGEMM "
            "peak, one read of X). fit s excludes reading the data (strata: the cohort reads of time, "
            "event and X; fit = sort, layout with X scattered in, Newton, baseline, Harrell's C).", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--append")
    a = ap.parse_args()
    t = table(a.run)
    print(t)
    if a.append:
        with open(a.append, "a") as fh:
            fh.write("\n" + t + "\n")


if __name__ == "__main__":
    main()
