#!/bin/sh
# bench/run_e2e.sh [N ...] | --pcn-scaling N — end-to-end `strata run`
# (synthesise with events → derive → fit → score → evaluate → stratify →
# aggregate → patient files → report) on synthetic cohorts, with wall time per
# stage (from manifest.json), the process's CPU seconds (user + sys) and peak
# RSS (/usr/bin/time -v) and the 1-minute load average before and after each
# run (the machine may be shared: say so; CPU s far below wall = starved).
#   N ...            all England scaled to N patients (default 1000000 10000000)
#   --pcn-scaling N  N patients drawn from selections of growing size — one PCN
#                    (U89141), an ICB of 11 PCNs (QOC), one of 68 (QHM), all
#                    England (1,298 PCNs, 6,196 practices) — so a stage whose
#                    time grows with the PCN or practice count at fixed N shows.
# Environment: E2E_MEM=4G sets `memory:` (the run's memory budget);
# E2E_DERIVE=0 fits the synthetic cohort's own columns instead of deriving them
# from its events (data/specs/derive_default.yaml); STRATA_BENCH_DIR (default
# /tmp/strata-bench-e2e) holds the runs; OMP_NUM_THREADS the threads;
# E2E_BIN (default build/strata) the binary, e.g. another commit's build to
# compare with.
# Prints a markdown table with the machine, thread count and OpenBLAS
# configuration, then each run's peak RSS by stage (VmRSS sampled every half
# second; each stage's window from the manifest's stage times laid end to end).
set -eu
cd "$(dirname "$0")/.."
bin=${E2E_BIN:-build/strata}
[ -x "$bin" ] || { echo "build first: scripts/setup.sh"; exit 2; }
root=$(pwd)
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-e2e}
threads=${OMP_NUM_THREADS:-$(nproc)}
derive=${E2E_DERIVE:-1}
mem=${E2E_MEM:-}
if [ "${1:-}" = "--pcn-scaling" ]; then
  n=${2:?--pcn-scaling N}
  runs="pcn:U89141:$n icb:QOC:$n icb:QHM:$n england:1:$n"
else
  runs=""
  for n in ${*:-1000000 10000000}; do runs="$runs england:1:$n"; done
fi
mkdir -p "$work"
echo "## strata run end to end ($(date -u +%Y-%m-%d))"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; threads: $threads; memory budget: ${mem:-none}; derive from events: $([ "$derive" = 1 ] && echo yes || echo no)"
echo
echo "| selection | patients | PCNs | practices | total s | synth + validate s | derive s | fit s | score s | evaluate s | stratify s | aggregate s | patient files s | report s | wall | CPU s | peak RSS MB | patients/s | load before / after |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in $runs; do
  sel=${r%%:*}; rest=${r#*:}; code=${rest%%:*}; n=${rest#*:}
  d="$work/${sel}_${code}_$n"
  rm -rf "$d" && mkdir -p "$d"
  if [ "$sel" = england ]; then synth="  england: true"; else synth="  $sel: $code"; fi
  {
    echo "synth:"
    echo "$synth"
    echo "  patients: $n"
    echo "  seed: 1"
    [ "$derive" = 1 ] && echo "derive: $root/data/specs/derive_default.yaml"
    echo "model:"
    echo "  family: binomial"
    echo "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex\""
    echo "evaluate:"
    echo "  by: [imd_quintile, ethnicity, sex, age_band, pcn]"
    echo "threads: $threads"
    [ -n "$mem" ] && echo "memory: $mem"
  } > "$d/spec.yaml"
  l0=$(cut -d' ' -f1 /proc/loadavg)
  rc=0
  /usr/bin/time -v "$bin" run "$d/spec.yaml" --out "$d/out" --overwrite --quiet 2> "$d/time.txt" &
  tpid=$!
  # RSS every half second (ms since start by the clock, kB) for each stage's
  # peak RSS: counting loop iterations instead drifted seconds behind at load
  ( t0=$(date +%s%N); : > "$d/rss.txt"
    while kill -0 "$tpid" 2>/dev/null; do
      for c in $(cat /proc/"$tpid"/task/*/children 2>/dev/null); do
        v=$(awk '/^VmRSS/{print $2}' /proc/"$c"/status 2>/dev/null) && [ -n "$v" ] &&
          echo "$((($(date +%s%N) - t0) / 1000000)) $v" >> "$d/rss.txt"
      done
      sleep 0.5
    done ) &
  spid=$!
  wait "$tpid" || rc=$?
  wait "$spid" || true
  l1=$(cut -d' ' -f1 /proc/loadavg)
  [ "$rc" = 0 ] || { echo "| $sel $code | $n | run failed (exit $rc): $(grep -m1 'error' "$d/time.txt") |"; continue; }
  rss=$(awk -F: '/Maximum resident/{gsub(/ /,"",$2); print int($2/1024)}' "$d/time.txt")
  wall=$(awk '/Elapsed \(wall clock\)/{print $NF}' "$d/time.txt")
  cpu=$(awk -F: '/User time|System time/{s += $2} END{printf "%.1f", s}' "$d/time.txt")
  /usr/bin/python3 - "$d/out" "$n" "$rss" "$wall" "$sel $code" "$l0 / $l1" "$cpu" "$d/rss.txt" <<'PY'
import json, sys
out, n, rss, wall, sel, load, cpu, rssf = sys.argv[1:]
m = json.load(open(out + "/manifest.json")); n = int(n)
t = {x["stage"]: x["seconds"] for x in m["timings"]}
# each stage's peak RSS from the half-second samples, the stages laid end to
# end from the process start (the run starts a fraction of a second after it)
samples = [(int(a) / 1000, int(b)) for a, b in (l.split() for l in open(rssf) if len(l.split()) == 2)]
peaks, t0 = [], 0.0
for x in m["timings"]:
    t1 = t0 + x["seconds"]
    v = [kb for s, kb in samples if t0 - 0.5 <= s <= t1 + 0.5]
    peaks.append(f"{x['stage']} {max(v) // 1024 if v else 0}")
    t0 = t1
with open(rssf + ".md", "w") as f:
    f.write(f"| {n:,} | " + " | ".join(peaks) + " |\n")
rows = lambda f: max(sum(1 for _ in open(out + "/" + f)) - 1, 0)
tot = sum(t.values())
g = lambda k: t.get(k, 0.0)
sel = "England" if sel.startswith("england") else sel.replace("pcn ", "PCN ").replace("icb ", "ICB ")
print(f"| {sel} | {n:,} | {rows('pcn_summary.csv'):,} | {rows('practice_summary.csv'):,} | {tot:.1f} | {g('synth') + g('cohort'):.1f} | "
      f"{g('derive'):.1f} | {g('model'):.1f} | {g('score'):.1f} | {g('evaluate'):.1f} | {g('stratify'):.1f} | "
      f"{g('aggregate'):.1f} | {g('patients'):.1f} | {g('report'):.2f} | {wall} | {cpu} | {rss} | {n / tot:,.0f} | {load} |")
PY
done
echo
echo "Peak RSS by stage (MB, from half-second samples of VmRSS; stage: MB):"
echo
cat "$work"/*/rss.txt.md 2>/dev/null || true
echo
echo "OpenBLAS: $(grep -ho '"openblas": "[^"]*"' "$work"/*/out/manifest.json 2>/dev/null | head -n 1 | cut -d'"' -f4)"
