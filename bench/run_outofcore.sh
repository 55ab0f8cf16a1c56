#!/bin/sh
# bench/run_outofcore.sh [N P BUDGET] — a GLM fit whose model columns exceed
# this machine's RAM, under a stated memory budget (issue 14 §1; docs/scale.md).
# Default: all England, 64,000,000 x 60 float64 = 30.7 GB on a 24 GiB box,
# budget 4G. Writes the cohort (bench/gen_cohort.py, ~31 GB of disk), measures
# this node's limits in the same run (`strata bench --quick`'s probe with a
# 4 GiB scratch file, cold), then runs `strata fit --mem-limit BUDGET --verbose`
# under /usr/bin/time -v and prints per-pass time against the time one read of
# the columns takes at the measured file read rate, with peak RSS and the load.
# NOT YET RUN: it takes the better part of an hour of disk I/O; do not run it on
# a shared development machine. Its table goes into docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/.."
n=${1:-64000000}
p=${2:-60}
budget=${3:-4G}
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-ooc}
threads=${OMP_NUM_THREADS:-$(nproc)}
[ -x build/strata ] || { echo "build first: scripts/setup.sh"; exit 2; }
mkdir -p "$work"
need=$((n * (p + 1) * 8 / 1000000000))
echo "## strata fit out of core ($(date -u +%Y-%m-%d))"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; threads $threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cohort: $n x $p float64 (~$need GB of model columns); budget $budget"
echo
[ -f "$work/cohort_${n}_${p}.h5" ] || /usr/bin/python3 bench/gen_cohort.py "$n" "$p" 1 "$work/cohort_${n}_${p}.h5" --layout chunked
# the node's limits, with a cold 4 GiB file read (tiny workload: only the limits are used)
./build/strata bench --size 1000 --quick --file-mb 4096 --threads "$threads" --dir "$work" \
    --json "$work/limits.json" --quiet
rate=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['limits']['file_read_gbs'])" "$work/limits.json")
formula="y_bin ~ $(seq -s ' + ' -f 'x%g' 1 "$p")"
/usr/bin/time -v ./build/strata fit "$work/cohort_${n}_${p}.h5" --formula "$formula" --family binomial \
    --mem-limit "$budget" --threads "$threads" --verbose --out "$work/model.h5" \
    > "$work/fit.txt" 2> "$work/time.txt" || true
rss=$(awk -F: '/Maximum resident/{gsub(/ /,"",$2); print int($2/1024)}' "$work/time.txt")
wall=$(awk '/Elapsed \(wall clock\)/{print $NF}' "$work/time.txt")
pass=$(grep -o 'irls_pass_ms=[0-9.]*' "$work/time.txt" | cut -d= -f2)
iters=$(grep -o 'iterations=[0-9]*' "$work/time.txt" | head -n 1 | cut -d= -f2)
/usr/bin/python3 - "$n" "$p" "$rate" "${pass:-nan}" "${iters:-?}" "$rss" "$wall" "$budget" <<'PY'
import sys
n, p, rate, pass_ms, iters, rss, wall, budget = sys.argv[1:]
n, p, rate = int(n), int(p), float(rate)
read_s = n * (p + 1) * 8 / (rate * 1e9)
print("| n | p | budget | iterations | s per pass | one read of the columns at the measured rate, s | pass / read | peak RSS MB | wall |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {n:,} | {p} | {budget} | {iters} | {float(pass_ms) / 1e3:.1f} | {read_s:.1f} | {float(pass_ms) / 1e3 / read_s:.2f} | {rss} | {wall} |")
PY
