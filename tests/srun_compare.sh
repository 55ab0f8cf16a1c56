#!/bin/sh
# tests/srun_compare.sh MPI_STRATA WORKDIR — the MPI build under Slurm
# (ctest labels mpi, slurm; docs/scale.md#mpi): `srun --mpi=pmix -n 2` fits a
# GLM with a 51-level factor, scores a cohort and runs a whole job, and each
# output must have the bytes of the single-process run (models: all but their
# provenance; the job: every output but manifest.json, which must record 2
# ranks). Skipped (exit 77) where no Slurm controller answers `sinfo`.
set -eu
S=$1
W=$2
. "$(dirname "$0")/compare_common.sh"
command -v srun >/dev/null 2>&1 && sinfo -h >/dev/null 2>&1 || { echo "no Slurm cluster answers here: skipped"; exit 77; }
rm -rf "$W"
mkdir -p "$W"
cd "$W"
SRUN="srun --mpi=pmix -n 2"
same() { if cmp -s "$1" "$2"; then ok "$3"; else bad "$3 differs"; fi; }

"$S" synth --patients 100000 --seed 3 --out fit.h5 --quiet
F="emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + practice + imd_decile + ltc_count"
"$S" fit fit.h5 --formula "$F" --out ref.h5 --threads 1 --quiet
$SRUN "$S" fit fit.h5 --formula "$F" --out np2.h5 --threads 1 --quiet
dump ref.h5 > ref.txt
dump np2.h5 > np2.txt
same ref.txt np2.txt "fit with a 51-level factor: srun -n 2 = one process"

"$S" score ref.h5 fit.h5 --out score.ref.csv --quiet
$SRUN "$S" score ref.h5 fit.h5 --out score.np2.csv --quiet
same score.ref.csv score.np2.csv "score: srun -n 2 = one process"

"$S" synth --patients 40000 --seed 4 --out job.h5 --quiet
cat > spec.yaml <<'SPEC'
cohort: job.h5
model:
  family: binomial
  formula: "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + age:sex"
stratify:
  tiers: [0.005, 0.045, 0.15]
SPEC
"$S" run spec.yaml --out run.ref --threads 1 --quiet
$SRUN "$S" run spec.yaml --out run.np2 --threads 1 --quiet
for f in run.ref/*; do
    b=$(basename "$f")
    case $b in
    manifest.json) continue ;;
    model.h5) dump "$f" > a.txt; dump "run.np2/$b" > b.txt; same a.txt b.txt "run: $b" ;;
    *) same "$f" "run.np2/$b" "run: $b" ;;
    esac
done
if grep -q '"ranks": *2' run.np2/manifest.json; then ok "run: manifest records 2 ranks"
else bad "run: manifest has no ranks"; fi
if grep -q '"launcher": *"srun (Slurm job [0-9]*, step [0-9]*)"' run.np2/manifest.json &&
   grep -q '"layout": *"[^"]*: 2 ranks"' run.np2/manifest.json; then ok "run: manifest records srun and the node layout"
else bad "run: launcher/layout not recorded: $(grep -e launcher -e layout run.np2/manifest.json | tr -d '\n')"; fi
rm -f fit.h5 job.h5
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
