#!/bin/sh
# bench/run_e2e.sh [N ...] — end-to-end `strata run` (synthesise → fit → score →
# evaluate → stratify → aggregate → report) on synthetic cohorts of all England
# scaled to N patients (default 1000000 10000000), with wall time per stage
# (from manifest.json) and peak RSS (/usr/bin/time -v). Prints a markdown table
# with the machine, thread count and OpenBLAS configuration.
set -eu
cd "$(dirname "$0")/.."
[ -x build/strata ] || { echo "build first: scripts/setup.sh"; exit 2; }
sizes=${*:-"1000000 10000000"}
work=${STRATA_BENCH_DIR:-/tmp/strata-bench-e2e}
threads=${OMP_NUM_THREADS:-$(nproc)}
mkdir -p "$work"
echo "## strata run end to end ($(date -u +%Y-%m-%d))"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; threads: $threads"
echo
echo "| patients | total s | synth s | fit s | score s | evaluate s | stratify+aggregate s | patient files + reasons s | report s | peak RSS MB | patients/s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  d="$work/n$n"
  rm -rf "$d" && mkdir -p "$d"
  cat > "$d/spec.yaml" <<SPEC
synth:
  england: true
  patients: $n
  seed: 1
model:
  family: binomial
  formula: "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"
evaluate:
  by: [imd_quintile, ethnicity, sex, age_band, pcn]
threads: $threads
SPEC
  /usr/bin/time -v ./build/strata run "$d/spec.yaml" --out "$d/out" --overwrite --quiet 2> "$d/time.txt"
  rss=$(awk -F: '/Maximum resident/{gsub(/ /,"",$2); print int($2/1024)}' "$d/time.txt")
  wall=$(awk '/Elapsed \(wall clock\)/{print $NF}' "$d/time.txt")
  /usr/bin/python3 - "$d/out/manifest.json" "$n" "$rss" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); n = int(sys.argv[2]); rss = sys.argv[3]
t = {x["stage"]: x["seconds"] for x in m["timings"]}
tot = sum(t.values())
g = lambda k: t.get(k, 0.0)
print(f"| {n:,} | {tot:.1f} | {g('cohort'):.1f} | {g('model'):.1f} | {g('score'):.1f} | {g('evaluate'):.1f} | "
      f"{g('stratify') + g('aggregate'):.1f} | {g('patients'):.1f} | {g('report'):.2f} | {rss} | {n / tot:,.0f} |")
PY
done
echo
echo "OpenBLAS: $(grep -o '"openblas": "[^"]*"' "$work"/n*/out/manifest.json | head -n 1 | cut -d'"' -f4)"
