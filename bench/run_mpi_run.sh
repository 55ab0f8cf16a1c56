#!/bin/sh
# bench/run_mpi_run.sh [N] [REPS] — `strata run` across MPI ranks, stage by
# stage (docs/scale.md#mpi, docs/benchmarks.md): a synthetic cohort of N
# patients (default 2,000,000), then two jobs — a logistic GLM (validation,
# fit and scores across the ranks) and an elastic net with cv: 5 (its six
# fits dealt round the ranks) — each as one process on 1 and 2 threads and as
# mpirun -np 2 with one thread a rank, REPS times (default 2) in turn. Prints
# one line per run: wall seconds of the whole process, the manifest's
# per-stage seconds, and the 1-minute load average before and after. Needs
# the mpi preset built (build-mpi/strata). The outputs of every run are
# compared with the first one's (cmp, manifest and model.h5 aside).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-2000000}
REPS=${2:-2}
S=$ROOT/build-mpi/strata
W=${STRATA_BENCH_DIR:-/tmp/strata-bench-mpirun}
mkdir -p "$W"
cd "$W"
[ -s "c$N.h5" ] || "$S" synth --patients "$N" --seed 11 --out "c$N.h5" --threads 2 --quiet
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none"
export OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores"
"$S" --version | grep -E 'openblas|mpi|hdf5' || true
cat > glm.yaml <<SPEC
cohort: c$N.h5
model:
  family: binomial
  formula: "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"
evaluate:
  by: [sex]
SPEC
cat > cv.yaml <<SPEC
cohort: c$N.h5
model:
  family: binomial
  formula: "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits"
  alpha: 0.5
  nlambda: 20
  cv: 5
evaluate:
  by: [sex]
SPEC
stages() { # manifest -> "cohort 1.23 model 4.56 ..."
    tr -d '\n ' < "$1" | grep -o '"timings":\[[^]]*\]' | grep -o '"seconds":[0-9.e-]*,"stage":"[a-z]*"' |
        sed 's/"seconds":\([0-9.e-]*\),"stage":"\([a-z]*\)"/\2 \1/' | awk '{printf "%s %.2f  ", $1, $2}'
}
one() { # spec label ranks threads
    la0=$(cut -d' ' -f1 /proc/loadavg)
    rm -rf out
    t0=$(date +%s.%N)
    if [ "$3" = 0 ]; then "$S" run "$1" --out out --threads "$4" --quiet
    else $MPIRUN -np "$3" "$S" run "$1" --out out --threads "$4" --quiet; fi
    t1=$(date +%s.%N)
    la1=$(cut -d' ' -f1 /proc/loadavg)
    same=same
    if [ -d "ref.$1" ]; then
        for f in ref."$1"/*; do
            b=$(basename "$f")
            case $b in manifest.json | model.h5) ;; *) cmp -s "$f" "out/$b" || same="DIFFERS ($b)" ;; esac
        done
    else mv out "ref.$1" && mkdir out && cp "ref.$1/manifest.json" out/; fi
    echo "$1 | $2 | wall $(echo "$t1 - $t0" | bc) s | $(stages out/manifest.json)| outputs $same | load $la0 -> $la1"
}
rm -rf ref.*
for rep in $(seq 1 "$REPS"); do
    for spec in glm.yaml cv.yaml; do
        one $spec "one process, 2 threads" 0 2
        one $spec "mpirun -np 2, 1 thread" 2 1
        one $spec "one process, 1 thread " 0 1
    done
done
