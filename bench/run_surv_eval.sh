#!/bin/sh
# bench/run_surv_eval.sh [N [BASE]] — `strata evaluate` on a Cox model with --by pcn
# (survival evaluation, docs/scale.md "Survival evaluation in memory"; surv13). Writes
# an N-row cohort (default 1,500,000; bench/gen_surv.py with x1..x5, plus a pcn
# column of 1,250 levels, sizes skewed as England's) into $STRATA_BENCH_DIR (default
# /tmp/strata-bench-surv; keep it out of any git tree), fits the Cox model, then runs
# `strata evaluate MODEL COHORT --horizon 1826 --by pcn` under /usr/bin/time -v on 1
# and 2 threads and prints wall and CPU seconds, peak RSS and the outputs' sha256.
# BASE=/path/to/strata also evaluates with that binary (e.g. main's) on 1 thread
# (before surv13 it ran a whole-n concordance per level: hours at 1.5 M rows, so
# SURV_TIMEOUT seconds, default 900, bound it). The load average is recorded.
set -eu
cd "$(dirname "$0")/.."
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-surv} n=${1:-1500000} base=${2:-}
[ -x build/strata ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 2; }
mkdir -p "$work"
cohort="$work/surv_${n}_pcn.h5" model="$work/cox_${n}.h5"
echo "## strata evaluate (Cox, --by pcn) ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty'); $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$cohort" ]; then
  /usr/bin/python3 bench/gen_surv.py "$n" 5 1 "$cohort.tmp"
  /usr/bin/python3 - "$cohort.tmp" "$n" <<'PY'
import sys, h5py, numpy as np
path, n, L = sys.argv[1], int(sys.argv[2]), 1250
rng = np.random.Generator(np.random.PCG64(13))
size = rng.lognormal(0, 0.6, L)
pcn = rng.choice(L, size=n, p=size / size.sum()).astype(np.int16)
with h5py.File(path, "a") as f:
    d = f["patients"].create_dataset("pcn", data=pcn)
    f.create_dataset("/dict/pcn", data=["U%05d" % k for k in range(L)], dtype=h5py.string_dtype())
    d.attrs["levels"] = "/dict/pcn"
PY
  mv "$cohort.tmp" "$cohort"
fi
[ -f "$model" ] || ./build/strata fit "$cohort" --family cox --formula "Surv(time_days, event) ~ x1 + x2 + x3 + x4 + x5" \
    --threads 2 --quiet --out "$model"
run() { # tag, threads, binary[, timeout]
  rc=0
  /usr/bin/time -v timeout "${4:-0}" "$3" evaluate "$model" "$cohort" --horizon 1826 --by pcn --threads "$2" \
      --out "$work/$1" > "$work/$1.log" 2>&1 || rc=$?
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$1.log")
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$work/$1.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$1.log")
  sums=$( [ $rc -eq 0 ] && cat "$work/$1/surv_summary.csv" "$work/$1/surv_calibration.csv" | sha256sum | cut -c1-16 || echo "exit $rc")
  echo "| $1 | $2 | $wall | $cpu | $((rss / 1024)) | $sums |"
}
echo
echo "| run | threads | wall | CPU s | peak RSS MB | outputs sha256 |"
echo "|---|---:|---:|---:|---:|---|"
run t1 1 ./build/strata
run t2 2 ./build/strata
[ -z "$base" ] || run base 1 "$base" "${SURV_TIMEOUT:-900}"
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
