#!/bin/sh
# bench/run_mpi_mem.sh [N] [BUDGET] — peak RSS per MPI rank of the GLM fit with
# and without --mem-limit (docs/scale.md, "A rank under the memory budget";
# docs/benchmarks.md, "Ranks under a memory budget"): a synthetic cohort of N
# patients (default 3,000,000; strata synth --seed 7), a binomial GLM of 8
# numeric variables and one with a spline and a factor, each in one process in
# memory (the reference), and with mpirun -np 2 (one thread a rank) in memory
# and under BUDGET (default 64M) per rank. Prints each rank's peak RSS (kB),
# wall and CPU seconds, the load average, and whether every model has the
# reference's bytes (but for creation time and BLAS threads). Needs the mpi
# preset built (build-mpi/strata).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-3000000}
B=${2:-64M}
S=$ROOT/build-mpi/strata
W=${STRATA_BENCH_DIR:-/tmp/strata-bench-mpi-mem}
mkdir -p "$W"
cd "$W"
[ -s "c$N.h5" ] || "$S" synth --patients "$N" --seed 7 --out "c$N.h5" --quiet
export OMPI_MCA_mpi_yield_when_idle=1
M="mpirun --oversubscribe --allow-run-as-root -np 2"
T="/usr/bin/time -f rank_peak_rss_%M_kB_wall_%e_s_cpu_%U+%S_s"
dump() { h5dump -m '%.17g' "$1" | grep -v -e 'T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z' -e 'OpenBLAS' -e '^HDF5 "'; }
uname -n; date -u; uptime
k=0
for F in "emergency_admission_12m ~ age + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + imd_decile + bmi + sbp" \
         "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"; do
    k=$((k + 1))
    echo "== formula $k: $F"
    echo "one process, in memory"
    $T "$S" fit "c$N.h5" --formula "$F" --out "f$k.ref.h5" --threads 1 --quiet
    dump "f$k.ref.h5" > "f$k.ref.txt"
    for lim in none "$B"; do
        echo "mpirun -np 2, budget $lim"
        if [ "$lim" = none ]; then o=""; else o="--mem-limit $lim"; fi
        # shellcheck disable=SC2086
        $M $T "$S" fit "c$N.h5" --formula "$F" $o --out "f$k.$lim.h5" --threads 1 --quiet
        dump "f$k.$lim.h5" > "f$k.$lim.txt"
        if cmp -s "f$k.ref.txt" "f$k.$lim.txt"; then echo "  same bytes as one process in memory"
        else echo "  DIFFERS from one process in memory"; fi
    done
done
uptime; date -u
