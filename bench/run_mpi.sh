#!/bin/sh
# bench/run_mpi.sh [N] [P] — strong and weak scaling of the MPI build's GLM fit
# (docs/scale.md#mpi, docs/benchmarks.md): a logistic fit of N x P (default
# 1,000,000 x 60, bench/gen_cohort.py) with mpirun -np 1 and -np 2 (one thread
# per rank), the same with one process on 2 threads, and N/2 rows on one rank
# (weak scaling: rows per rank fixed). Prints one line per run: wall seconds of
# the whole process, the fit's own load_s / fit_s / IRLS ms per pass (its
# timing log), and the 1-minute load average before and after. Needs the mpi
# preset built (build-mpi/strata) and python3-h5py.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
P=${2:-60}
S=$ROOT/build-mpi/strata
W=${STRATA_BENCH_DIR:-/tmp/strata-bench-mpi}
mkdir -p "$W"
H=$((N / 2))
for n in $N $H; do
    [ -s "$W/c$n.h5" ] || /usr/bin/python3 "$ROOT/bench/gen_cohort.py" "$n" "$P" 1 "$W/c$n.h5"
done
F="y_bin ~ $(seq -s ' + ' -f 'x%g' 1 "$P")"
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
"$S" --version | grep -E 'openblas|mpi|hdf5' || true
one() { # label ranks threads rows [STRATA_MPIIO]
    la0=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    if [ "$2" = 0 ]; then
        OPENBLAS_NUM_THREADS=1 "$S" fit "$W/c$4.h5" --formula "$F" --out "$W/m.h5" --threads "$3" --verbose 2> "$W/log"
    else
        STRATA_MPIIO=${5:-collective} OPENBLAS_NUM_THREADS=1 $MPIRUN -x STRATA_MPIIO -np "$2" "$S" fit "$W/c$4.h5" --formula "$F" --out "$W/m.h5" --threads "$3" --verbose 2> "$W/log"
    fi >/dev/null
    t1=$(date +%s.%N)
    la1=$(cut -d' ' -f1 /proc/loadavg)
    tl=$(grep -o 'load_s=[0-9.]* fit_s=[0-9.]* iterations=[0-9]* irls_pass_ms=[0-9.]* irls_pass_cpu_ms=[0-9.]*' "$W/log" | head -1)
    tl="$tl $(grep -o 'setup [0-9.]* s' "$W/log" | head -1)"
    echo "$1 | rows $4 | wall $(echo "$t1 - $t0" | bc) s | $tl | load $la0 -> $la1"
}
for rep in 1 2; do
    one "one process, 1 thread " 0 1 $N
    one "one process, 2 threads" 0 2 $N
    one "mpirun -np 1, 1 thread" 1 1 $N
    one "mpirun -np 2, 1 thread" 2 1 $N
    one "-np 2, independent I/O" 2 1 $N independent
    one "weak: -np 1, N/2 rows " 1 1 $H
done
