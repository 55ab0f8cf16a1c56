#!/usr/bin/env bash
# bench/run_glm.sh — the GLM benchmark of issue 4 in ONE run: measures the
# machine (bench_roofline), generates each n x p cohort (gen_cohort.py), runs
# `strata fit` and the peers (R glm, statsmodels GLM and Logit, scikit-learn
# lbfgs) side by side under /usr/bin/time -v, then prints the markdown table
# (bench/glm_table.py) and appends it, dated, to docs/benchmarks.md.
# Invariant: when `strata fit` is missing or fails, its row says so and the
# peers and the roofline still run; a peer that would not fit in memory is skipped
# with the reason in its row.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
SIZES="100000 1000000"
PS="20 60"
FAMILY=binomial
THREADS=${THREADS:-2}
WORK=${BENCH_WORKDIR:-/tmp/strata-bench}
DOCS=$ROOT/docs/benchmarks.md
PEERS="r_glm sm_glm sm_logit sklearn"
PEER_TIMEOUT=${PEER_TIMEOUT:-900}
STRATA=${STRATA:-$ROOT/build/strata}
SEED=1
REPS=3
REPEAT=1

usage() {
    cat <<EOF
usage: bench/run_glm.sh [options]
  --sizes "N ..."   rows (default "$SIZES")
  --with-10m        add n = 10,000,000 (peers that would exceed memory are skipped)
  --p "P ..."       features (default "$PS")
  --family F        binomial (default) | poisson | gamma (sm_logit/sklearn: binomial only)
  --peers "..."     subset of: $PEERS
  --threads T       OMP/OpenBLAS threads and strata --threads (default $THREADS)
  --workdir DIR     data and raw results (default $WORK; data files are reused)
  --no-docs         print the table only; do not append to docs/benchmarks.md
  --reps R          roofline repetitions (default $REPS)
  --repeat K        run strata and every peer K times, interleaved; the table keeps the
                    fastest fit of each (default $REPEAT; use 3 on a shared machine)
env: STRATA (binary, default build/strata), PEER_TIMEOUT seconds (default $PEER_TIMEOUT),
     STRATA_FIT_ARGS (extra arguments to strata fit, default --verbose),
     MEM_MB (memory to plan peers against, default MemAvailable),
     STRATA_LABEL (free text naming the binary's origin, e.g. a branch and commit)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --with-10m) SIZES="$SIZES 10000000"; shift ;;
    --p) PS=$2; shift 2 ;;
    --family) FAMILY=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --workdir) WORK=$2; shift 2 ;;
    --no-docs) DOCS=""; shift ;;
    --reps) REPS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_glm.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$FAMILY" in binomial|poisson|gamma) ;; *) echo "run_glm.sh: bad --family $FAMILY" >&2; exit 2 ;; esac

export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
# Cached data are keyed by the generator's content: a changed generator regenerates.
GEN=$(sha1sum "$ROOT/bench/gen_cohort.py" | cut -c1-8)
mkdir -p "$WORK/data"
RUN=$WORK/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"
log() { echo "[run_glm $(date -u +%H:%M:%S)] $*" >&2; }

# ---- binaries ---------------------------------------------------------------
ROOF=$ROOT/build/bench/bench_roofline
if [ ! -x "$ROOF" ] || [ ! -x "$STRATA" ]; then
    log "building release (cmake --preset release)"
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build -j"$THREADS" >/dev/null)
fi

# ---- roofline of this machine, in this run ---------------------------------
pairs=""
for n in $SIZES; do for p in $PS; do pairs="$pairs $n:$p"; done; done
log "roofline:$pairs"
"$ROOF" --reps "$REPS" --threads "$THREADS" --json "$RUN/roofline.json" $pairs | tee "$RUN/roofline.md" >&2

sizes_json=$(for n in $SIZES; do for p in $PS; do printf '[%s, %s],' "$n" "$p"; done; done)
peers_json=$(for k in $PEERS; do printf '"%s",' "$k"; done)
cat >"$RUN/run.json" <<EOF
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "family": "$FAMILY", "threads": $THREADS,
 "omp": "$OMP_NUM_THREADS", "openblas": "$OPENBLAS_NUM_THREADS",
 "coretype": "${OPENBLAS_CORETYPE:-}", "l2": "${OPENBLAS_L2_SIZE:-}",
 "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "git": "$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')",
 "command": "bench/run_glm.sh --sizes \"$SIZES\" --p \"$PS\" --family $FAMILY --threads $THREADS --repeat $REPEAT",
 "strata": "$STRATA ($("$STRATA" --version 2>/dev/null | head -n 1))${STRATA_LABEL:+, $STRATA_LABEL}",
 "datadir": "$WORK/data", "seed": $SEED, "gen": "$GEN", "repeat": $REPEAT,
 "sizes": [${sizes_json%,}], "peers": [${peers_json%,}]}
EOF

mem_mb=${MEM_MB:-$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)}
# Peak memory per byte of X seen in ../shared/PEERS.md at 1M x 60 (rounded up).
peer_factor() {
    case "$1" in
    r_glm) echo 10 ;; sm_glm) echo 17 ;; sm_logit) echo 5 ;; sklearn) echo 2 ;; *) echo 20 ;;
    esac
}
outcome() { case "$FAMILY" in binomial) echo y_bin ;; poisson) echo y_count ;; gamma) echo cost ;; esac; }

timed() { # timed BASE cmd... : stdout -> BASE.json, stderr -> BASE.err, rc -> BASE.rc
    local base=$1; shift
    local rc=0
    /usr/bin/time -v -o "$base.time" timeout "$PEER_TIMEOUT" "$@" >"$base.json" 2>"$base.err" || rc=$?
    echo "$rc" >"$base.rc"
    return 0
}

for n in $SIZES; do
    for p in $PS; do
        tag=n${n}_p${p}
        cohort=$WORK/data/cohort_${tag}_s${SEED}_g$GEN.h5
        xmat=$WORK/data/peers_${tag}_s${SEED}_g$GEN.h5
        if [ ! -s "$cohort" ] || [ ! -s "$xmat" ]; then
            log "generating $tag"
            "$PY" "$ROOT/bench/gen_cohort.py" "$n" "$p" "$SEED" "$cohort" --xmatrix "$xmat"
        fi
        formula="$(outcome) ~ $(seq -s ' + ' -f 'x%g' 1 "$p")"

        # The load strata pays, through the engine's own cohort reader.
        CR=$ROOT/build/bench/bench_cohort_read
        [ -x "$CR" ] && timed "$RUN/${tag}_cohortread" "$CR" "$cohort" "$(outcome)" 8192

        xbytes_mb=$((n * p * 8 / 1048576))
        for peer in $PEERS; do
            skip=$RUN/${tag}_$peer.skip
            need=$((xbytes_mb * $(peer_factor "$peer")))
            if [ "$need" -gt $((mem_mb * 8 / 10)) ]; then
                echo "skipped: needs ~${need} MB (80 % of ${mem_mb} MB available)" >"$skip"
                log "skip $peer $tag (~${need} MB)"
            elif [ "$FAMILY" != binomial ] && { [ "$peer" = sm_logit ] || [ "$peer" = sklearn ]; }; then
                echo "binomial only" >"$skip"
            fi
        done

        # Repetitions interleave the runners, so a busy spell hits them alike.
        for rep in $(seq 1 "$REPEAT"); do
        # strata fit: the row reports why when it is not there yet or fails.
        base=$RUN/${tag}_strata_r$rep
        log "strata fit $tag (run $rep)"
        # shellcheck disable=SC2086
        timed "$base" "$STRATA" fit "$cohort" --family "$FAMILY" --formula "$formula" \
            --threads "$THREADS" --out "$base.model.h5" ${STRATA_FIT_ARGS:---verbose}
        if [ "$(cat "$base.rc")" = 0 ]; then
            "$STRATA" coef "$base.model.h5" --csv >"$base.coef.csv" 2>>"$base.err" ||
                log "strata coef failed for $tag"
        else
            log "strata fit $tag: exit $(cat "$base.rc"): $(head -c 200 "$base.err")"
        fi

        for peer in $PEERS; do
            base=$RUN/${tag}_${peer}_r$rep
            [ -e "$RUN/${tag}_$peer.skip" ] && continue
            log "$peer $tag (run $rep)"
            case "$peer" in
            r_glm) timed "$base" Rscript "$ROOT/bench/peers/r_glm.R" "$cohort" --family "$FAMILY" --coef "$base.coef.csv" ;;
            sm_glm) timed "$base" "$PY" "$ROOT/bench/peers/py_statsmodels.py" "$xmat" --model glm --family "$FAMILY" --coef "$base.coef.csv" ;;
            sm_logit) timed "$base" "$PY" "$ROOT/bench/peers/py_statsmodels.py" "$xmat" --model logit --coef "$base.coef.csv" ;;
            sklearn) timed "$base" "$PY" "$ROOT/bench/peers/py_sklearn.py" "$xmat" --coef "$base.coef.csv" ;;
            *) echo "unknown peer" >"$base.skip" ;;
            esac
            if [ "$(cat "$base.rc" 2>/dev/null || echo 0)" != 0 ]; then
                log "$peer $tag exit $(cat "$base.rc"): $(tail -n 2 "$base.err")"
            fi
        done
        done
    done
done

cut -d' ' -f1-3 /proc/loadavg >"$RUN/loadavg_end"
"$PY" "$ROOT/bench/glm_table.py" "$RUN" ${DOCS:+--append "$DOCS"}
log "raw results in $RUN${DOCS:+; table appended to $DOCS}"
