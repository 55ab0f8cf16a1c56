#!/usr/bin/env bash
# bench/run_elnet.sh — the elastic-net benchmark of issue 13 in ONE run, on three
# binomial workloads, each fitted by strata (1 and 2 threads: the two paths must be
# the same bytes), R glmnet / cv.glmnet and scikit-learn saga on the same data:
#   mixed: bench_elnet's synthetic design (half N(0,1), half 0/1 flags, 10 effects);
#   peers: ../shared/PEERS.md's data, bench/gen_cohort.py N P 1 (X dense float64,
#          y_bin), the data the issue's glmnet figures were measured on;
#   flags: a wide code-list design, --wide N x P sparse 0/1 flags (glmnet and saga
#          get it as a sparse matrix, strata as dense columns, as a cohort holds them).
# With --folds K (at n <= --cv-max-n) strata's K-fold CV and cv.glmnet as well (each
# with its own folds). saga fits ONE lambda (--saga-lambda, glmnet's scale), not a path.
# Prints markdown tables: wall and CPU seconds, lambdas, data passes, path agreement
# with glmnet, peak memory against X, glmnet / strata.
# Invariant: every figure comes from this run; the load average is recorded at
# both ends, with the machine, threads and the OpenBLAS configuration.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES="100000 1000000"
P=60
ALPHA=0.5
FOLDS=5
CV_MAX_N=100000
WIDE="1000000x400"
SAGA_LAMBDA=0.001
SAGA_MAX_N=1000000
DESIGNS="mixed peers"
WORK=${BENCH_WORKDIR:-/tmp/strata-elnetbench}
while [ $# -gt 0 ]; do
    case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --p) P=$2; shift 2 ;;
    --alpha) ALPHA=$2; shift 2 ;;
    --folds) FOLDS=$2; shift 2 ;;
    --cv-max-n) CV_MAX_N=$2; shift 2 ;;
    --designs) DESIGNS=$2; shift 2 ;;
    --wide) WIDE=$2; shift 2 ;;
    --saga-lambda) SAGA_LAMBDA=$2; shift 2 ;;
    --saga-max-n) SAGA_MAX_N=$2; shift 2 ;;
    --workdir) WORK=$2; shift 2 ;;
    -h|--help) echo "usage: bench/run_elnet.sh [--sizes \"N ...\"] [--p P] [--alpha A] [--folds K] [--cv-max-n N] [--designs \"mixed peers\"] [--wide NxP|none] [--saga-lambda L] [--saga-max-n N] [--workdir DIR]"; exit 0 ;;
    *) echo "run_elnet.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
BENCH=$ROOT/build/bench/bench_elnet
[ -x "$BENCH" ] || { echo "run_elnet.sh: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
mkdir -p "$WORK"
kv() { sed -n -E "s/(^|.*[ \"])$1=([^ ]*).*/\2/p" <<<"$2" | head -1; }
js() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$2" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
# largest |dev_ratio difference| and relative lambda difference, strata vs glmnet path CSVs
pathdiff() {
    paste -d, "$1" "$2" | awk -F, 'NR > 1 && $6 != "" { d = $5 - $10; if (d < 0) d = -d; if (d > md) md = d;
        l = ($2 - $7) / $7; if (l < 0) l = -l; if (NR > 2 && l > ml) ml = l }
        END { printf "dev.ratio %.1e, lambda %.1e", md, ml }'
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u '+%Y-%m-%d %H:%M UTC')
rows=""
saga=""
blas=""
# one workload: design, n, p, data prefix, bench design argument
workload() {
    local design=$1 n=$2 p=$3 pre=$4 arg=$5 s1 s2 same r
    s1=$("$BENCH" "$n" "$p" "$ALPHA" 0 1 "$pre" "$arg")
    cp "$pre.path.csv" "$pre.path1.csv"
    s2=$("$BENCH" "$n" "$p" "$ALPHA" 0 2 "$pre" "$arg")
    same=$(cmp -s "$pre.path.csv" "$pre.path1.csv" && echo same || echo DIFFERENT)
    blas=$(sed -n 's/^blas="\([^"]*\)".*/\1/p' <<<"$s2")
    r=$(Rscript "$ROOT/bench/peers/r_glmnet.R" "$pre" "$n" "$p" "$ALPHA" | tail -1)
    rows+="| $design | path | $n x $p | $(kv seconds "$s1") / $(kv cpu_seconds "$s1") | $(kv seconds "$s2") / $(kv cpu_seconds "$s2") | $(js fit_s "$r") / $(js cpu_s "$r") | $(kv lambdas "$s2") / $(js lambdas "$r") | $(kv grams "$s2") + $(kv scans "$s2") | 1 vs 2 threads $same; vs glmnet $(pathdiff "$pre.path.csv" "$pre.glmnet.csv") | $(kv peak_rss_mb "$s1") / $(kv x_mb "$s1") / $(js max_rss_mb "$r") | $(ratio "$(js fit_s "$r")" "$(kv seconds "$s2")") | $(ratio "$(js cpu_s "$r")" "$(kv cpu_seconds "$s1")") |"$'\n'
    if [ "$FOLDS" -gt 0 ] && [ "$n" -le "$CV_MAX_N" ]; then
        local c1 c2 rc
        c1=$("$BENCH" "$n" "$p" "$ALPHA" "$FOLDS" 1 "$pre.cvt1" "$arg")
        c2=$("$BENCH" "$n" "$p" "$ALPHA" "$FOLDS" 2 "$pre.cvt2" "$arg")
        same=$(cmp -s "$pre.cvt1.cv.csv" "$pre.cvt2.cv.csv" && cmp -s "$pre.cvt1.path.csv" "$pre.cvt2.path.csv" && echo same || echo DIFFERENT)
        rc=$(Rscript "$ROOT/bench/peers/r_glmnet.R" "$pre" "$n" "$p" "$ALPHA" "$FOLDS" | tail -1)
        rows+="| $design | $FOLDS-fold CV | $n x $p | $(kv seconds "$c1") / $(kv cpu_seconds "$c1") | $(kv seconds "$c2") / $(kv cpu_seconds "$c2") | $(js fit_s "$rc") / $(js cpu_s "$rc") | $(kv lambdas "$c2") / $(js lambdas "$rc") | - | 1 vs 2 threads $same (curve, path); lambda.min $(kv cv_lambda_min "$c2") | $(kv peak_rss_mb "$c1") / $(kv x_mb "$c1") / $(js max_rss_mb "$rc") | $(ratio "$(js fit_s "$rc")" "$(kv seconds "$c2")") | $(ratio "$(js cpu_s "$rc")" "$(kv cpu_seconds "$c1")") |"$'\n'
    fi
    if [ "$n" -le "$SAGA_MAX_N" ]; then
        local sg
        sg=$(/usr/bin/python3 "$ROOT/bench/peers/py_saga.py" "$pre" "$n" "$p" "$ALPHA" "$SAGA_LAMBDA" | tail -1)
        saga+="| $design | $n x $p | $SAGA_LAMBDA | $(js fit_s "$sg") / $(js cpu_s "$sg") | $(js epochs "$sg") | $(js nonzero "$sg") | $(js max_rss_mb "$sg") | $(kv seconds "$s2") / $(kv cpu_seconds "$s1") ($(kv lambdas "$s2") lambdas) |"$'\n'
    fi
    rm -f "$pre".X "$pre".y "$pre".ij "$pre".cvt[12].*
}

for design in $DESIGNS; do
    for n in $SIZES; do
        pre=$WORK/$design${n}x$P
        if [ "$design" = peers ]; then
            /usr/bin/python3 "$ROOT/bench/gen_cohort.py" "$n" "$P" 1 "$pre.cohort.h5" --xmatrix "$pre.xmatrix.h5" 2>/dev/null
            /usr/bin/python3 "$ROOT/bench/peers/cohort_raw.py" "$pre.xmatrix.h5" "$pre" 2>/dev/null
            rm -f "$pre.cohort.h5" "$pre.xmatrix.h5"
            workload peers "$n" "$P" "$pre" "load:$pre"
        else
            workload "$design" "$n" "$P" "$pre" "$design"
        fi
    done
done
if [ "$WIDE" != none ]; then
    wn=${WIDE%x*}
    wp=${WIDE#*x}
    FOLDS_SAVED=$FOLDS
    FOLDS=0
    workload flags "$wn" "$wp" "$WORK/flags${wn}x$wp" flags
    FOLDS=$FOLDS_SAVED
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<EOT
### Elastic net (binomial, alpha = $ALPHA), $start

Machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo).
OpenBLAS: $blas; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}.
Load average (1, 5, 15 min): $load0 at the start, $load1 at the end. glmnet and saga are single-threaded.
Command: \`bench/run_elnet.sh --sizes "$SIZES" --p $P --alpha $ALPHA --folds $FOLDS --designs "$DESIGNS" --wide $WIDE --saga-max-n $SAGA_MAX_N\` at $(cd "$ROOT" && git rev-parse --short HEAD).

| data | fit | n x p | strata 1 thread wall / CPU s | strata 2 threads wall / CPU s | glmnet wall / CPU s | lambdas strata / glmnet | strata passes (Gram + scan) | check (max difference of the path vs glmnet) | peak MB strata / X / glmnet | glmnet / strata wall (2 threads) | glmnet / strata CPU (1 thread) |
|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|
$rows
scikit-learn 1.2 \`LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=$ALPHA, C=1/(n lambda), tol=1e-4, max_iter=200)\`, ONE lambda, unstandardised columns, beside strata's whole path:

| data | n x p | lambda | saga wall / CPU s | epochs | non-zero | saga peak MB | strata path wall (2 threads) / CPU (1 thread) s |
|---|---|---:|---:|---:|---:|---:|---:|
$saga
EOT
