#!/usr/bin/env bash
# bench/run_elnet.sh — the elastic-net benchmark of issue 13 in ONE run: for each
# n x p, bench_elnet makes the synthetic binomial design (half N(0,1), half 0/1
# flags) and fits the path with 1 and 2 threads (the two paths must be the same
# bytes), then R glmnet fits the same data; with --folds K (at n <= --cv-max-n)
# strata's K-fold CV and cv.glmnet as well (each with its own folds). Prints a
# markdown table: wall and CPU seconds, lambdas, data passes, glmnet / strata.
# Invariant: every figure comes from this run; the load average is recorded at
# both ends, with the machine, threads and the OpenBLAS configuration.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES="100000 1000000"
P=60
ALPHA=0.5
FOLDS=5
CV_MAX_N=100000
WORK=${BENCH_WORKDIR:-/tmp/strata-elnetbench}
while [ $# -gt 0 ]; do
    case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --p) P=$2; shift 2 ;;
    --alpha) ALPHA=$2; shift 2 ;;
    --folds) FOLDS=$2; shift 2 ;;
    --cv-max-n) CV_MAX_N=$2; shift 2 ;;
    --workdir) WORK=$2; shift 2 ;;
    -h|--help) echo "usage: bench/run_elnet.sh [--sizes \"N ...\"] [--p P] [--alpha A] [--folds K] [--cv-max-n N]"; exit 0 ;;
    *) echo "run_elnet.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
BENCH=$ROOT/build/bench/bench_elnet
[ -x "$BENCH" ] || { echo "run_elnet.sh: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
mkdir -p "$WORK"
kv() { sed -n -E "s/(^|.*[ \"])$1=([^ ]*).*/\2/p" <<<"$2" | head -1; }
js() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$2" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u '+%Y-%m-%d %H:%M UTC')
rows=""
blas=""
for n in $SIZES; do
    pre=$WORK/d${n}x$P
    s1=$("$BENCH" "$n" "$P" "$ALPHA" 0 1 "$pre")
    cp "$pre.path.csv" "$pre.path1.csv"
    s2=$("$BENCH" "$n" "$P" "$ALPHA" 0 2 "$pre")
    same=$(cmp -s "$pre.path.csv" "$pre.path1.csv" && echo same || echo DIFFERENT)
    blas=$(sed -n 's/^blas="\([^"]*\)".*/\1/p' <<<"$s2")
    r=$(Rscript "$ROOT/bench/peers/r_glmnet.R" "$pre" "$n" "$P" "$ALPHA" | tail -1)
    rows+="| path | $n x $P | $(kv seconds "$s1") / $(kv cpu_seconds "$s1") | $(kv seconds "$s2") / $(kv cpu_seconds "$s2") | $(js fit_s "$r") / $(js cpu_s "$r") | $(kv lambdas "$s2") / $(js lambdas "$r") | $(kv grams "$s2") + $(kv scans "$s2") | 1 vs 2 threads: $same | $(ratio "$(js fit_s "$r")" "$(kv seconds "$s2")") | $(ratio "$(js cpu_s "$r")" "$(kv cpu_seconds "$s1")") |"$'\n'
    if [ "$FOLDS" -gt 0 ] && [ "$n" -le "$CV_MAX_N" ]; then
        c1=$("$BENCH" "$n" "$P" "$ALPHA" "$FOLDS" 1)
        c2=$("$BENCH" "$n" "$P" "$ALPHA" "$FOLDS" 2)
        rc=$(Rscript "$ROOT/bench/peers/r_glmnet.R" "$pre" "$n" "$P" "$ALPHA" "$FOLDS" | tail -1)
        rows+="| $FOLDS-fold CV | $n x $P | $(kv seconds "$c1") / $(kv cpu_seconds "$c1") | $(kv seconds "$c2") / $(kv cpu_seconds "$c2") | $(js fit_s "$rc") / $(js cpu_s "$rc") | $(kv lambdas "$c2") / $(js lambdas "$rc") | - | lambda.min $(kv cv_lambda_min "$c2") | $(ratio "$(js fit_s "$rc")" "$(kv seconds "$c2")") | $(ratio "$(js cpu_s "$rc")" "$(kv cpu_seconds "$c1")") |"$'\n'
    fi
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<EOF
### Elastic net (binomial, alpha = $ALPHA), $start

Machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo).
OpenBLAS: $blas; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}.
Load average (1, 5, 15 min): $load0 at the start, $load1 at the end. glmnet is single-threaded.
Command: \`bench/run_elnet.sh --sizes "$SIZES" --p $P --alpha $ALPHA --folds $FOLDS\` at $(cd "$ROOT" && git rev-parse --short HEAD).

| fit | n x p | strata 1 thread wall / CPU s | strata 2 threads wall / CPU s | glmnet wall / CPU s | lambdas strata / glmnet | strata passes (Gram + scan) | check | glmnet / strata wall (2 threads) | glmnet / strata CPU (1 thread) |
|---|---|---:|---:|---:|---:|---:|---|---:|---:|
$rows
EOF
