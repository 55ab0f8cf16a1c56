#!/bin/sh
# tests/mpi_compare.sh MPI_STRATA SERIAL_STRATA WORKDIR — the MPI build's
# byte-identity test (ctest label mpi; docs/scale.md#mpi). Fits four GLMs
# (warm start, a spline and an interaction; missing values; Poisson with an
# offset, whose null deviance is a row-order sum carried from rank to rank;
# the categorical-aware pass with a 51-level factor, whose group partials
# continue from rank to rank), two Cox fits (Efron and Breslow ties, strata,
# weights, an offset), scores a cohort and runs a whole job, with
# `mpirun -np 1` to `4` and without mpirun, and with the serial build's strata
# when it has been built (SERIAL_STRATA; else that comparison is skipped and
# said so). Every model must have the same bytes but for its provenance (time,
# BLAS threads); every output of the job but manifest.json and model.h5 must be
# byte-identical, and the job's manifest must record the ranks.
set -eu
S=$1
SERIAL=$2
W=$3
. "$(dirname "$0")/compare_common.sh"
rm -rf "$W"
mkdir -p "$W"
cd "$W"
MPIRUN="mpirun --oversubscribe --allow-run-as-root"
# OpenBLAS's thread count (which mpirun's core binding changes) does not
# reach the bytes: the solve runs on one BLAS thread (tests/blas_threads.sh).

"$S" synth --patients 600000 --seed 3 --out fit.h5 --quiet
"$S" synth --patients 40000 --seed 4 --out job.h5 --quiet


fitcase() { # name "np list" fit options...
    name=$1
    nps=$2
    shift 2
    "$S" fit fit.h5 "$@" --out "$name.ref.h5" --threads 2 --quiet
    dump "$name.ref.h5" > "$name.ref.txt"
    if [ -x "$SERIAL" ]; then
        "$SERIAL" fit fit.h5 "$@" --out "$name.serial.h5" --threads 1 --quiet
        dump "$name.serial.h5" > "$name.serial.txt"
        if cmp -s "$name.ref.txt" "$name.serial.txt"; then ok "$name: serial build = MPI build without mpirun"
        else bad "$name: serial build differs"; diff "$name.ref.txt" "$name.serial.txt" | head -20; fi
    fi
    for np in $nps; do
        $MPIRUN -np $np "$S" fit fit.h5 "$@" --out "$name.np$np.h5" --threads 1 --quiet
        dump "$name.np$np.h5" > "$name.np$np.txt"
        if cmp -s "$name.ref.txt" "$name.np$np.txt"; then ok "$name: mpirun -np $np = one process"
        else bad "$name: mpirun -np $np differs"; diff "$name.ref.txt" "$name.np$np.txt" | head -20; fi
    done
}

# the row reads' three transfer modes (STRATA_MPIIO), -np 2
mpiio() {
    for mode in individual independent; do
        STRATA_MPIIO=$mode $MPIRUN -x STRATA_MPIIO -np 2 "$S" fit fit.h5 "$@" --out "io.$mode.h5" --threads 1 --quiet
        dump "io.$mode.h5" > "io.$mode.txt"
        if cmp -s warm.ref.txt "io.$mode.txt"; then ok "STRATA_MPIIO=$mode -np 2 = one process"
        else bad "STRATA_MPIIO=$mode -np 2 differs"; fi
    done
}

fitcase warm "2 3" --formula "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"
mpiio --formula "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"
fitcase missing "2" --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + smoking + bmi + log(sbp) + ltc_count"
fitcase offset "2" --family poisson --formula "prior_emergency_12m ~ age + sex + imd_decile + ltc_count + offset(log1p(gp_appointments_12m))"

# scoring: chunks of 524,288 rows dealt round the ranks, rank 0 writes them in order
"$S" score warm.ref.h5 fit.h5 --out score.ref.csv --quiet
"$S" score warm.ref.h5 fit.h5 --out score.ref.h5 --quiet
for np in 2 3; do
    $MPIRUN -np $np "$S" score warm.ref.h5 fit.h5 --out score.np$np.csv --quiet
    $MPIRUN -np $np "$S" score warm.ref.h5 fit.h5 --out score.np$np.h5 --quiet
    if cmp -s score.ref.csv score.np$np.csv; then ok "score -np $np: scores.csv"; else bad "score -np $np: scores.csv differs"; fi
    h5dump -m '%.17g' score.ref.h5 | tail -n +2 > a.txt
    h5dump -m '%.17g' score.np$np.h5 | tail -n +2 > b.txt
    if cmp -s a.txt b.txt; then ok "score -np $np: scores.h5"; else bad "score -np $np: scores.h5 differs"; fi
done
rm -f score.*.csv

# the categorical-aware pass: group partials continued from rank to rank
fitcase factor "2 3 4" --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + practice + imd_decile + ltc_count"

cat > spec.yaml <<'SPEC'
cohort: job.h5
model:
  family: binomial
  formula: "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"
evaluate:
  by: [imd_quintile, sex]
stratify:
  tiers: [0.005, 0.045, 0.15]
  capacity_per_1000: 5
SPEC

runcmp() { # reference dir, other dir, label
    for f in "$1"/*; do
        b=$(basename "$f")
        case $b in
        manifest.json) continue ;;
        model.h5) dump "$f" > a.txt; dump "$2/$b" > b.txt; if cmp -s a.txt b.txt; then ok "$3: $b"; else bad "$3: $b differs"; fi ;;
        *) if cmp -s "$f" "$2/$b"; then ok "$3: $b"; else bad "$3: $b differs"; fi ;;
        esac
    done
}

"$S" run spec.yaml --out run.ref --threads 2 --quiet
if [ -x "$SERIAL" ]; then
    "$SERIAL" run spec.yaml --out run.serial --threads 1 --quiet
    runcmp run.ref run.serial "run, serial build"
fi
for np in 1 2; do
    $MPIRUN -np $np "$S" run spec.yaml --out run.np$np --threads 1 --quiet
    runcmp run.ref run.np$np "run -np $np"
done
if grep -q '"ranks": *2' run.np2/manifest.json; then ok "run -np 2: manifest records 2 ranks"
else bad "run -np 2: manifest has no ranks"; fi
node=$(uname -n)
if grep -q '"launcher": *"mpirun (Open MPI)"' run.np2/manifest.json && grep -q '"nodes": *1' run.np2/manifest.json &&
   grep -q "\"layout\": *\"$node: 2 ranks\"" run.np2/manifest.json; then ok "run -np 2: manifest records mpirun and $node: 2 ranks"
else bad "run -np 2: launcher/layout not recorded: $(grep -e launcher -e layout -e nodes run.np2/manifest.json | tr -d '\n')"; fi
if grep -q '"mpi"' run.np1/manifest.json; then bad "run -np 1: manifest names MPI ranks"
else ok "run -np 1: one process, no ranks in the manifest"; fi
# ---- Cox (docs/scale.md#mpi, "The distributed Cox fit") ---------------------
# The fit across ranks on job.h5 (37,613 complete cases: 5 blocks of 8,192
# sorted rows, one or two a rank; the censorings at 365 days are one tied group
# over several blocks): model bytes but for provenance, and `strata coef` (text
# and CSV; printed by the serial build when there is one: the MPI build's
# start-up costs ~2 s a command here) byte-identical.
C=$S
[ -x "$SERIAL" ] && C=$SERIAL
coxcase() { # name "np list" fit options...
    name=$1
    nps=$2
    shift 2
    "$S" fit job.h5 --family cox "$@" --out "$name.ref.h5" --threads 2 --quiet
    dump "$name.ref.h5" > "$name.ref.txt"
    "$C" coef "$name.ref.h5" > "$name.ref.coef"
    "$C" coef "$name.ref.h5" --csv >> "$name.ref.coef"
    if [ -x "$SERIAL" ]; then
        "$SERIAL" fit job.h5 --family cox "$@" --out "$name.serial.h5" --threads 1 --quiet
        dump "$name.serial.h5" > "$name.serial.txt"
        if cmp -s "$name.ref.txt" "$name.serial.txt"; then ok "$name: serial build = MPI build without mpirun"
        else bad "$name: serial build differs"; diff "$name.ref.txt" "$name.serial.txt" | head -20; fi
    fi
    for np in $nps; do
        $MPIRUN -np $np "$S" fit job.h5 --family cox "$@" --out "$name.np$np.h5" --threads 1 --quiet
        dump "$name.np$np.h5" > "$name.np$np.txt"
        "$C" coef "$name.np$np.h5" > "$name.np$np.coef"
        "$C" coef "$name.np$np.h5" --csv >> "$name.np$np.coef"
        if cmp -s "$name.ref.txt" "$name.np$np.txt"; then ok "$name: mpirun -np $np = one process (model)"
        else bad "$name: mpirun -np $np differs"; diff "$name.ref.txt" "$name.np$np.txt" | head -20; fi
        if cmp -s "$name.ref.coef" "$name.np$np.coef"; then ok "$name: mpirun -np $np = one process (strata coef)"
        else bad "$name: mpirun -np $np: strata coef differs"; fi
    done
}
# Efron ties, strata, a spline, a factor, the robust variance
coxcase cox_efron "2" --robust --formula "Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + ethnicity + ltc_count + prior_emergency_12m + strata(pcn)"
# Breslow ties, case weights, an offset, strata, missing values, the robust
# variance by cluster (sums carried rank to rank; 12,403 complete cases: 2
# blocks, so -np 3 leaves a rank without rows)
coxcase cox_breslow "3" --ties breslow --weights sbp --formula "Surv(time_to_emergency_days, emergency_event) ~ age + sex + bmi + offset(log1p(gp_appointments_12m)) + strata(imd_decile) + cluster(practice)"
# Efron ties in groups of more than 8,192 rows (a 0/1 time): a group's event
# sums from the blocks it covers (spills) added in block order
coxcase cox_ties "2" --formula "Surv(hypertension, emergency_event) ~ age + imd_decile + ltc_count"
# Cox scoring: chunks of 65,536 rows dealt round the ranks (fit.h5: 10 chunks,
# 4 rounds), rank 0 writes them in order; NaN where bmi is missing
"$S" score cox_breslow.ref.h5 fit.h5 --horizon 100,365 --out coxscore.ref.csv --quiet
$MPIRUN -np 3 "$S" score cox_breslow.ref.h5 fit.h5 --horizon 100,365 --out coxscore.np3.csv --quiet
if cmp -s coxscore.ref.csv coxscore.np3.csv; then ok "cox score -np 3: scores.csv"; else bad "cox score -np 3: scores.csv differs"; fi
rm -f coxscore.*.csv
# an error in the data is agreed: every rank exits 6, rank 0 names the row once
if $MPIRUN -np 2 "$S" fit job.h5 --family cox --weights age --formula "Surv(time_to_emergency_days, emergency_event) ~ sex" \
    --out cox_bad.h5 --quiet 2> cox_bad.err; then bad "cox bad weight -np 2: not refused"
elif [ "$(grep -c 'weight 0 is not a positive number' cox_bad.err)" = 1 ] && [ ! -e cox_bad.h5 ]; then ok "cox bad weight -np 2: refused once, nothing written"
else bad "cox bad weight -np 2: $(head -3 cox_bad.err)"; fi
# ---- end of Cox -------------------------------------------------------------

[ -x "$SERIAL" ] || echo "note: no serial build at $SERIAL; compared with the MPI build run without mpirun only"
rm -f fit.h5 ./*.np*.h5 io.*.h5
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
