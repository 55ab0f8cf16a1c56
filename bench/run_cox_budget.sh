#!/bin/sh
# bench/run_cox_budget.sh [N P BUDGET] — the Cox fit under a memory budget (issue 14
# §1; docs/scale.md "The Cox fit under a budget"), in ONE run beside the in-memory fit
# of the same cohort. Default 10,000,000 x 20 (1.6 GB of design) under 1G. Writes the
# cohort (bench/gen_surv.py: Weibull PH in whole days, Efron ties) into
# $STRATA_BENCH_DIR (default /tmp/strata-bench-coxmem; keep it out of any git tree),
# measures this node's cold read rate of the cohort file in the same run (its pages
# dropped from the page cache, then 1 GiB read sequentially), then runs `strata fit
# --family cox --verbose` in memory and with --mem-limit BUDGET under /usr/bin/time -v
# and prints, per fit: wall and CPU seconds, peak RSS, the evaluations and the time of
# one (three sweeps of the design when streamed), the scratch file's read rate, and
# whether the two models hold the same bytes (h5dump of every group but provenance).
# The load average is recorded at both ends. COXMEM_DELETE=1 deletes the cohort after.
# COXMEM_BASE=/path/to/strata also fits with that binary (e.g. main's, to compare a
# change) under the same budget, in the same run; COXMEM_LOW=SIZE also fits under a
# second, lower budget; every model is compared with the in-memory one.
set -eu
cd "$(dirname "$0")/.."
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-coxmem} threads=${OMP_NUM_THREADS:-2}
n=${1:-10000000} p=${2:-20} budget=${3:-1G}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
[ -x build/strata ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 2; }
mkdir -p "$work"
cohort="$work/surv_${n}_${p}.h5"
echo "## strata Cox fit under a memory budget ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty'); machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM"
echo "threads $threads (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS); OPENBLAS_CORETYPE='${OPENBLAS_CORETYPE:-}' OPENBLAS_L2_SIZE='${OPENBLAS_L2_SIZE:-}' (unset = auto-detected)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$cohort" ]; then
  t0=$(date +%s)
  /usr/bin/python3 bench/gen_surv.py "$n" "$p" 1 "$cohort"
  echo "cohort generated in $(( $(date +%s) - t0 )) s"
fi
echo "cohort: $n x $p float64 ($(( n * p * 8 / 1048576 )) MiB of design), file $(( $(stat -c %s "$cohort") / 1048576 )) MiB; budget $budget"
cold=$(/usr/bin/python3 - "$cohort" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
want = min(1 << 30, size)
got, t0 = 0, time.perf_counter()
while got < want:
    b = os.pread(fd, 8 << 20, got)
    if not b:
        break
    got += len(b)
print("%.2f" % (got / (time.perf_counter() - t0) / 1e9))
PY
)
echo "cold read of the cohort file (page cache dropped, 1 GiB sequential): $cold GB/s"
formula="Surv(time_days, event) ~ $(seq -s ' + ' -f 'x%g' 1 "$p")"
run() { # tag, extra options[, binary]
  /usr/bin/time -v "${3:-./build/strata}" fit "$cohort" --family cox --formula "$formula" --threads "$threads" --verbose \
      --out "$work/$1.h5" $2 > "$work/$1.log" 2>&1 || { echo "$1: failed"; tail -5 "$work/$1.log"; exit 1; }
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$1.log" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$work/$1.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$1.log")
  ev=$(sed -n 's/.*cox: [0-9]* rows, .*: sort and layout \([0-9.]*\) s, \([0-9]*\) evaluations in \([0-9.]*\) s (\([0-9.]*\) s each).*/load+sort+layout(+write) \1 s; \2 evaluations in \3 s, \4 s each/p' "$work/$1.log")
  rd=$(sed -n 's/.*cox: read \(.*\)/scratch reads: \1/p' "$work/$1.log")
  echo "| $1 | $wall | $cpu | $(( rss / 1024 )) | $ev ${rd:+; $rd} |"
}
echo
rm -f "$work/base.log" "$work/low.log"
echo "| fit | wall s | CPU s | peak RSS MiB | passes |"
echo "|---|---:|---:|---:|---|"
run memory ""
[ -n "${COXMEM_BASE:-}" ] && run base "--mem-limit $budget" "$COXMEM_BASE"
run budget "--mem-limit $budget"
[ -n "${COXMEM_LOW:-}" ] && run low "--mem-limit $COXMEM_LOW"
for t in base budget low; do
  [ -f "$work/$t.log" ] && grep -h "streaming the sorted design" "$work/$t.log" | sed "s/^strata: info: /log ($t): /"
done
dump() { h5dump -g /coefficients -g /summary -g /baseline -g /strata "$1" 2>/dev/null | sed 1d; }
for t in base budget low; do
  [ -f "$work/$t.h5" ] || continue
  if [ "$(dump "$work/memory.h5" | sha1sum)" = "$(dump "$work/$t.h5" | sha1sum)" ]; then
    echo "models ($t): the same bytes as in memory (coefficients, variances, summary, baseline, strata)"
  else
    echo "models ($t): DIFFER"
  fi
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$work/memory.h5" "$work/base.h5" "$work/budget.h5" "$work/low.h5" "$work/base.log" "$work/low.log"
[ "${COXMEM_DELETE:-0}" = 1 ] && rm -f "$cohort"
exit 0
