#!/bin/sh
# bench/run_mpi_cox.sh [N] — the MPI build's Cox fit across ranks (docs/scale.md,
# "The distributed Cox fit"; docs/benchmarks.md): `strata synth --patients N`
# (default 1,000,000; time to emergency admission, Efron ties, 11 PCN strata, a
# spline and a factor), fitted by one process on 1 and 2 threads and by mpirun
# -np 1 and -np 2 (one thread per rank). Prints per run the wall seconds and the
# CPU seconds (user + system of the process and its children: every rank) from
# /usr/bin/time, and the 1-minute load average before and after; checks that
# every model has the same bytes but for provenance. On a shared machine compare
# CPU seconds: wall depends on the load. Needs the mpi preset built.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
S=$ROOT/build-mpi/strata
W=${STRATA_BENCH_DIR:-/tmp/strata-bench-mpi-cox}
mkdir -p "$W"
[ -s "$W/c$N.h5" ] || "$S" synth --patients "$N" --seed 1 --out "$W/c$N.h5" --quiet
F="Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + strata(pcn)"
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none"
export OMPI_MCA_mpi_yield_when_idle=1
echo "date $(date -u +%FT%TZ); commit $(git -C "$ROOT" rev-parse --short HEAD)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"
"$S" --version | grep -E 'openblas|mpi|hdf5' || true
dump() { h5dump -m '%.17g' "$1" | grep -v -e 'T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z' -e 'OpenBLAS' -e '^HDF5 "'; }
one() { # label ranks threads
    la0=$(cut -d' ' -f1 /proc/loadavg)
    if [ "$2" = 0 ]; then
        OPENBLAS_NUM_THREADS=1 /usr/bin/time -f '%e %U %S' -o "$W/time" "$S" fit "$W/c$N.h5" --family cox \
            --formula "$F" --out "$W/m.h5" --threads "$3" --quiet
    else
        OPENBLAS_NUM_THREADS=1 /usr/bin/time -f '%e %U %S' -o "$W/time" $MPIRUN -np "$2" "$S" fit "$W/c$N.h5" \
            --family cox --formula "$F" --out "$W/m.h5" --threads "$3" --quiet
    fi
    la1=$(cut -d' ' -f1 /proc/loadavg)
    dump "$W/m.h5" > "$W/m.txt"
    [ -s "$W/ref.txt" ] || cp "$W/m.txt" "$W/ref.txt"
    same=$(cmp -s "$W/ref.txt" "$W/m.txt" && echo same || echo DIFFERENT)
    read -r e u s < "$W/time"
    echo "$1 | rows $N | wall $e s | cpu $(echo "$u + $s" | bc) s | model $same | load $la0 -> $la1"
}
rm -f "$W/ref.txt"
for rep in 1 2; do
    one "one process, 1 thread " 0 1
    one "one process, 2 threads" 0 2
    one "mpirun -np 1, 1 thread" 1 1
    one "mpirun -np 2, 1 thread" 2 1
done
