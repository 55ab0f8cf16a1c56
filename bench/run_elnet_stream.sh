#!/bin/sh
# bench/run_elnet_stream.sh [N P BUDGET] — the elastic net under a memory
# budget (issue 14 §1; docs/scale.md, "The elastic net under a budget"): a
# lasso path (binomial, 100 lambdas, glmnet's early stop) on a synthetic
# cohort whose design exceeds the budget, streamed (`--mem-limit BUDGET`)
# against the in-memory path in the same run. Default 5,000,000 x 40 under
# 512M. Writes the cohort (bench/gen_cohort.py) into $STRATA_BENCH_DIR
# (default /tmp/strata-bench-enet; ENET_DELETE=1 removes it at the end),
# measures this node's read rate of the cohort file in the same run (a warm
# sequential read of the whole file, and a cold one after dropping its pages
# when ENET_COLD=1), runs both fits under /usr/bin/time -v, checks that the
# paths and the selected models are the same bytes (`strata coef` text and
# `--path --csv`), and prints wall, CPU seconds, peak RSS, the load average
# before and after, the passes and reads of the file, and the time per pass
# against one read of the model columns at the measured rate. The machine is
# shared: compare CPU seconds as well as wall.
set -eu
cd "$(dirname "$0")/.."
n=${1:-5000000}
p=${2:-40}
budget=${3:-512M}
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-enet}
threads=${OMP_NUM_THREADS:-$(nproc)}
[ -x build/strata ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 2; }
mkdir -p "$work"
cohort="$work/cohort_${n}_${p}.h5"
echo "## strata elastic net under a memory budget ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; threads $threads"
echo "OpenBLAS: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-unset}"
if [ ! -f "$cohort" ]; then
  t0=$(date +%s.%N)
  /usr/bin/python3 bench/gen_cohort.py "$n" "$p" 1 "$cohort" --layout chunked
  echo "generation: $(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $t0}") s"
fi
size=$(stat -c %s "$cohort")
# the file's read rate in this run: warm (page cache), and cold when asked
rate() {
  /usr/bin/python3 - "$cohort" "$1" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
if sys.argv[2] == "cold":
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
got, t0 = 0, time.perf_counter()
while True:
    b = os.pread(fd, 8 << 20, got)
    if not b:
        break
    got += len(b)
print("%.2f" % (got / (time.perf_counter() - t0) / 1e9))
PY
}
rate warm > /dev/null
warm=$(rate warm)
cold=-
[ "${ENET_COLD:-0}" = 1 ] && cold=$(rate cold)
echo "file: $size bytes; read rate warm $warm GB/s, cold $cold GB/s"
formula="y_bin ~ $(seq -s ' + ' -f 'x%g' 1 "$p")"
run() { # name, extra args
  name=$1
  shift
  l0=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -v ./build/strata fit "$cohort" --formula "$formula" --family binomial --alpha 1 \
      --threads "$threads" --verbose --out "$work/$name.h5" "$@" > "$work/$name.out" 2> "$work/$name.err" ||
    { echo "strata fit ($name) failed:"; tail -n 5 "$work/$name.err"; exit 1; }
  l1=$(cut -d' ' -f1-3 /proc/loadavg)
  wall=$(awk '/Elapsed \(wall clock\)/{print $NF}' "$work/$name.err")
  cpu=$(awk -F: '/User time|System time/{s += $2} END{printf "%.1f", s}' "$work/$name.err")
  rss=$(awk -F: '/Maximum resident/{gsub(/ /,"",$2); print int($2/1024)}' "$work/$name.err")
  fsin=$(awk -F: '/File system inputs/{gsub(/ /,"",$2); print $2}' "$work/$name.err")
  echo "| $name | ${1:-} ${2:-} | $wall | $cpu | $rss | $l0 | $l1 |"
  ./build/strata coef "$work/$name.h5" > "$work/$name.coef"
  ./build/strata coef "$work/$name.h5" --path --csv > "$work/$name.path.csv"
}
echo
echo "| fit | args | wall | CPU s (user + sys) | peak RSS MB | load before | load after |"
echo "|---|---|---:|---:|---:|---|---|"
run memory
run streamed --mem-limit "$budget"
echo
grep -h 'streaming windows\|elnet: streamed' "$work/streamed.err" | sed 's/^/    /'
if cmp -s "$work/memory.coef" "$work/streamed.coef" && cmp -s "$work/memory.path.csv" "$work/streamed.path.csv"; then
  echo "same bytes: the selected model (strata coef) and the path (--path --csv, $(($(wc -l < "$work/memory.path.csv") - 1)) rows)"
else
  echo "DIFFERENT: the streamed path or model differs from the in-memory one"; exit 1
fi
/usr/bin/python3 - "$n" "$p" "$warm" "$work/streamed.err" <<'PY'
import re, sys
n, p, warm = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
log = open(sys.argv[4]).read()
m = re.search(r"elnet: streamed: (\d+) passes over the rows, (\d+) of them before the path.*?(\d+) window reads \((\d+) windows a pass.*?path_s=([0-9.]+) pass_ms=([0-9.]+) wait_s=([0-9.]+)", log, re.S)
passes, pre, reads, nwin, path_s, pass_ms, wait_s = m.groups()
cols = n * (p * 8 + 1)  # x1..xp (float64) and y_bin (int8), as read a pass
print(f"passes {passes} ({pre} before the path), {int(reads) / int(nwin):.1f} reads of the model columns "
      f"({reads} windows of {nwin}); path {float(path_s):.1f} s, {float(pass_ms):.0f} ms a pass in the path "
      f"against {cols / warm / 1e6:.0f} ms for one read of the {cols / 1e9:.2f} GB of model columns at the warm "
      f"rate {warm} GB/s; the passes waited {float(wait_s):.1f} s for reads")
PY
if [ "${ENET_DELETE:-0}" = 1 ]; then rm -rf "$work"; echo "deleted $work"; fi
