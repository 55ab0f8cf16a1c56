#!/bin/sh
# bench/run_outofcore.sh [N P BUDGET] — a GLM fit whose model columns exceed
# this machine's RAM, under a stated memory budget (issue 14 §1; docs/scale.md).
# Default: all England, 64,000,000 x 60 float64 = 30.7 GB of model columns
# (32 GB file) on a 24 GiB box, budget 4G. Writes the cohort
# (bench/gen_cohort.py, timed) into $STRATA_BENCH_DIR (keep it out of any git
# tree), measures in the same run this node's cold read rate twice — `strata
# bench --quick`'s probe on a scratch file of $OOC_PROBE_MB MiB (default 1024)
# and a cold sequential read of 4 GiB of the cohort file itself after dropping
# the whole file from the page cache — then runs `strata fit --mem-limit BUDGET
# --verbose` under /usr/bin/time -v with the 1-minute load sampled every 10 s,
# and prints per-pass time against one read of the columns at the measured
# rate, the passes, total time, peak RSS and the load. OOC_DELETE=1 deletes the
# cohort afterwards. OOC_EVICT=1 drops the cohort's pages from the page cache
# every second during the fit (POSIX_FADV_DONTNEED), so a cohort that would fit
# in the page cache is read from disk as a larger-than-RAM one is (for a shared
# disk without room for the full size). Takes ~25 min at the default size on this box.
set -eu
cd "$(dirname "$0")/.."
n=${1:-64000000}
p=${2:-60}
budget=${3:-4G}
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-ooc}
threads=${OMP_NUM_THREADS:-$(nproc)}
probe_mb=${OOC_PROBE_MB:-1024}
[ -x build/strata ] || { echo "build first: scripts/setup.sh"; exit 2; }
mkdir -p "$work"
cohort="$work/cohort_${n}_${p}.h5"
need=$((n * p * 8 / 1000000000))
now() { date +%s.%N; }
echo "## strata fit out of core ($(date -u +%Y-%m-%d))"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; threads $threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cohort: $n x $p float64 (~$need GB of model columns x1..x$p, plus y_bin); budget $budget"
if [ -f "$cohort" ]; then
  echo "generation: (cohort already there, not timed in this run)"
else
  t0=$(now)
  /usr/bin/python3 bench/gen_cohort.py "$n" "$p" 1 "$cohort" --layout chunked
  t1=$(now)
  echo "generation: $(awk "BEGIN{printf \"%.0f\", $t1 - $t0}") s (load $(cut -d' ' -f1 /proc/loadavg))"
fi
echo "file: $(stat -c %s "$cohort") bytes"
# the node's limits, with a cold scratch-file read (tiny workload: only the limits are used)
./build/strata bench --size 1000 --quick --file-mb "$probe_mb" --threads "$threads" --dir "$work" \
    --json "$work/limits.json" --quiet > /dev/null
# a cold read of the cohort itself: the whole file dropped from the page cache,
# then 4 GiB read sequentially from the middle (8 MiB reads)
cold=$(/usr/bin/python3 - "$cohort" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
want = min(4 << 30, size // 2)
off = (size // 2 - want // 2) & ~((8 << 20) - 1)
got, t0 = 0, time.perf_counter()
while got < want:
    b = os.pread(fd, 8 << 20, off + got)
    if not b:
        break
    got += len(b)
dt = time.perf_counter() - t0
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
print("%.3f" % (got / dt / 1e9))
PY
)
rate=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['limits']['file_read_gbs'])" "$work/limits.json")
echo "cold read: cohort file $cold GB/s; strata bench probe ($probe_mb MiB scratch) $rate GB/s"
echo "page cache: $([ "${OOC_EVICT:-0}" = 1 ] && echo "the cohort's pages dropped every second during the fit (OOC_EVICT=1)" || echo "left alone")"
formula="y_bin ~ $(seq -s ' + ' -f 'x%g' 1 "$p")"
(while :; do cut -d' ' -f1 /proc/loadavg; sleep 10; done) > "$work/load.txt" &
sampler=$!
evict=
if [ "${OOC_EVICT:-0}" = 1 ]; then
  /usr/bin/python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
while True:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    time.sleep(1)
' "$cohort" &
  evict=$!
fi
rc=0
/usr/bin/time -v ./build/strata fit "$cohort" --formula "$formula" --family binomial \
    --mem-limit "$budget" --threads "$threads" --verbose --out "$work/model.h5" \
    > "$work/fit.txt" 2> "$work/time.txt" || rc=$?
kill "$sampler"
[ -z "$evict" ] || kill "$evict"
[ "$rc" = 0 ] || { echo "strata fit failed (exit $rc):"; tail -n 20 "$work/time.txt"; exit 1; }
grep -h 'streaming chunks\|glm timings' "$work/time.txt" | sed 's/^/    /'
rss=$(awk -F: '/Maximum resident/{gsub(/ /,"",$2); print int($2/1024)}' "$work/time.txt")
wall=$(awk '/Elapsed \(wall clock\)/{print $NF}' "$work/time.txt")
cpu=$(awk -F: '/Percent of CPU/{gsub(/[ %]/,"",$2); print $2}' "$work/time.txt")
timings=$(grep -h 'glm timings' "$work/time.txt" | tail -n 1)
# blocks of 512 bytes the process read from disk (not the page cache)
fsin=$(awk -F: '/File system inputs/{gsub(/ /,"",$2); print $2}' "$work/time.txt")
/usr/bin/python3 - "$n" "$p" "$cold" "$rate" "$rss" "$wall" "$budget" "$cpu" "$work/load.txt" "$timings" "$fsin" "$(stat -c %s "$cohort")" <<'PY'
import re, sys
n, p, cold, rate, rss, wall, budget, cpu, loadf, timings, fsin, fsize = sys.argv[1:]
n, p, cold, rate = int(n), int(p), float(cold), float(rate)
get = lambda k: float(re.search(k + r"=([0-9.]+)", timings).group(1))
pass_s, iters, load_s, fit_s = get("irls_pass_ms") / 1e3, int(get("iterations")), get("load_s"), get("fit_s")
passes = int(re.search(r"over (\d+) full passes", timings).group(1))
phase = lambda k: float(re.search(k + r" ([0-9.]+) s", timings).group(1))
warm_s, irls_s, summ_s = phase("warm start"), phase("IRLS"), phase("summary")
reads = int(fsin) * 512 / int(fsize)
loads = [float(x) for x in open(loadf).read().split()] or [float("nan")]
cols = n * (p * 8 + 1)  # x1..xp (float64) and y_bin (int8) as stored, read once a pass
read_s = cols / (cold * 1e9)
print()
print("| n | p | GB read a pass | budget | iterations | full passes | s per pass | one read at the cold rate, s | pass / read | load s | warm start s | IRLS s | summary s | fit s | reads of the file from disk | wall | peak RSS MB | CPU | load avg (1 min) mean / max |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {n:,} | {p} | {cols / 1e9:.1f} | {budget} | {iters} | {passes} | {pass_s:.1f} | {read_s:.1f} | {pass_s / read_s:.2f} | "
      f"{load_s:.1f} | {warm_s:.1f} | {irls_s:.1f} | {summ_s:.1f} | {fit_s:.1f} | {reads:.1f} | {wall} | {rss} | {cpu} % | {sum(loads) / len(loads):.1f} / {max(loads):.1f} |")
PY
if [ "${OOC_DELETE:-0}" = 1 ]; then rm -f "$cohort"; echo "deleted $cohort"; fi
