#!/usr/bin/env bash
# bench/run_cox.sh — the Cox benchmark of issue 12 in ONE run: measures the machine
# (bench_roofline: the Gram bound per n x p), generates each cohort (gen_surv.py:
# Weibull PH in whole days), then runs the strata Cox fit (bench_cox), R coxph and
# statsmodels PHReg side by side under /usr/bin/time -v, Efron ties, and prints the
# table (bench/cox_table.py), appending it, dated, to docs/benchmarks.md.
# Invariant: every figure comes from this run; a peer that fails, times out or would
# not fit in memory gets a row saying why; the load average is recorded at both ends.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
SIZES="100000 1000000"
PS="20 60"
THREADS=${THREADS:-2}
WORK=${BENCH_WORKDIR:-/tmp/strata-coxbench}
DOCS=$ROOT/docs/benchmarks.md
PEERS="r_coxph sm_phreg"
PEER_TIMEOUT=${PEER_TIMEOUT:-900}
REPEAT=1
REPS=3
SEED=1

usage() {
    cat <<USAGE
usage: bench/run_cox.sh [--sizes "N ..."] [--p "P ..."] [--peers "r_coxph sm_phreg"]
                        [--threads T] [--repeat K] [--reps R] [--workdir DIR] [--no-docs]
  --repeat K: strata runs K times interleaved with the peers; the table keeps the fastest
  --peers "": strata alone (e.g. the 10M x 60 memory check)
USAGE
}
while [ $# -gt 0 ]; do
    case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --p) PS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --workdir) WORK=$2; shift 2 ;;
    --no-docs) DOCS=""; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_cox.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
GEN=$(cat "$ROOT/bench/gen_surv.py" "$ROOT/bench/gen_cohort.py" | sha1sum | cut -c1-8)
RUN=$WORK/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$WORK/data" "$RUN"
log() { echo "[run_cox $(date -u +%H:%M:%S)] $*" >&2; }
BENCH=$ROOT/build/bench/bench_cox
ROOF=$ROOT/build/bench/bench_roofline
if [ ! -x "$BENCH" ] || [ ! -x "$ROOF" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build -j"$THREADS" >/dev/null)
fi

pairs=""
for n in $SIZES; do for p in $PS; do pairs="$pairs $n:$p"; done; done
log "roofline:$pairs"
"$ROOF" --reps "$REPS" --threads "$THREADS" --json "$RUN/roofline.json" $pairs >"$RUN/roofline.md" 2>&1

cat >"$RUN/run.json" <<JSON
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "threads": $THREADS,
 "coretype": "${OPENBLAS_CORETYPE:-}", "l2": "${OPENBLAS_L2_SIZE:-}",
 "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "git": "$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')",
 "command": "bench/run_cox.sh --sizes \"$SIZES\" --p \"$PS\" --peers \"$PEERS\" --threads $THREADS --repeat $REPEAT"}
JSON

timed() { # timed BASE cmd...: stdout -> BASE.json, stderr -> BASE.err, rc -> BASE.rc
    local base=$1; shift
    local rc=0
    /usr/bin/time -v -o "$base.time" timeout "$PEER_TIMEOUT" "$@" >"$base.json" 2>"$base.err" || rc=$?
    echo "$rc" >"$base.rc"
}
mem_mb=$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)

for n in $SIZES; do
    for p in $PS; do
        tag=n${n}_p${p}
        cohort=$WORK/data/surv_${tag}_s${SEED}_g$GEN.h5
        xmat=$WORK/data/survx_${tag}_s${SEED}_g$GEN.h5
        if [ ! -s "$cohort" ] || { [ -n "$PEERS" ] && [ ! -s "$xmat" ]; }; then
            log "generating $tag"
            if [ -n "$PEERS" ]; then
                "$PY" "$ROOT/bench/gen_surv.py" "$n" "$p" "$SEED" "$cohort" --xmatrix "$xmat"
            else
                "$PY" "$ROOT/bench/gen_surv.py" "$n" "$p" "$SEED" "$cohort"
            fi
        fi
        xmb=$((n * p * 8 / 1048576))
        for rep in $(seq 1 "$REPEAT"); do
            log "strata $tag (run $rep, load $(cut -d' ' -f1 /proc/loadavg))"
            timed "$RUN/${tag}_strata_r$rep" "$BENCH" "$cohort" "$p" --threads "$THREADS" \
                --coef "$RUN/${tag}_strata_r$rep.coef.csv"
            for peer in $PEERS; do
                base=$RUN/${tag}_${peer}_r$rep
                # R coxph peaked at ~6x X at 1M x 60 (PEERS.md), PHReg more: plan for 12x
                if [ $((xmb * 12)) -gt $((mem_mb * 8 / 10)) ]; then
                    echo "skipped: needs ~$((xmb * 12)) MB" >"$base.skip"; continue
                fi
                log "$peer $tag (run $rep, load $(cut -d' ' -f1 /proc/loadavg))"
                case "$peer" in
                r_coxph) timed "$base" Rscript "$ROOT/bench/peers/r_coxph.R" "$cohort" --coef "$base.coef.csv" ;;
                sm_phreg) timed "$base" "$PY" "$ROOT/bench/peers/py_phreg.py" "$xmat" --coef "$base.coef.csv" ;;
                esac
            done
        done
    done
done
cut -d' ' -f1-3 /proc/loadavg >"$RUN/loadavg_end"
"$PY" "$ROOT/bench/cox_table.py" "$RUN" ${DOCS:+--append "$DOCS"}
log "raw results in $RUN${DOCS:+; table appended to $DOCS}"
