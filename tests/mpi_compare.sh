#!/bin/sh
# tests/mpi_compare.sh MPI_STRATA SERIAL_STRATA WORKDIR — the MPI build's
# byte-identity test (ctest label mpi; docs/scale.md#mpi). Fits four GLMs
# (warm start, a spline and an interaction; missing values; Poisson with an
# offset, whose null deviance is a row-order sum carried from rank to rank;
# the categorical-aware pass with a 51-level factor, whose group partials
# continue from rank to rank; three of them again under --mem-limit, the ranks
# streaming their blocks), three Cox fits (Efron and Breslow ties, strata,
# weights, an offset, the robust variance, cluster()) and a Cox scoring, scores a cohort, derives features from its events
# (blocks of patients dealt round the ranks; and a derive that fails) and
# runs a whole job (and one that derives its features first; its scores are
# chunks dealt round the ranks too), with
# `mpirun -np 1` to `4` and without mpirun, and with the serial build's strata
# when it has been built (SERIAL_STRATA; else that comparison is skipped and
# said so). Every model must have the same bytes but for its provenance (time,
# BLAS threads); every output of the job but manifest.json and model.h5 must be
# byte-identical, and the job's manifest must record the ranks. The elastic
# net's block near the end fits three paths at -np 2 and 3 the same way, and
# a CV whose fold fits are dealt round the ranks (fit and run).
set -eu
S=$1
SERIAL=$2
W=$3
. "$(dirname "$0")/compare_common.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd) # the source tree (data/), before the cd below
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
    "$S" fit "${COHORT:-fit.h5}" "$@" --out "$name.ref.h5" --threads 2 --quiet
    dump "$name.ref.h5" > "$name.ref.txt"
    if [ -x "$SERIAL" ]; then
        "$SERIAL" fit "${COHORT:-fit.h5}" "$@" --out "$name.serial.h5" --threads 1 --quiet
        dump "$name.serial.h5" > "$name.serial.txt"
        if cmp -s "$name.ref.txt" "$name.serial.txt"; then ok "$name: serial build = MPI build without mpirun"
        else bad "$name: serial build differs"; diff "$name.ref.txt" "$name.serial.txt" | head -20; fi
    fi
    for np in $nps; do
        $MPIRUN -np $np "$S" fit "${COHORT:-fit.h5}" "$@" --out "$name.np$np.h5" --threads 1 --quiet
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

# --mem-limit per rank (docs/scale.md#mpi): when a rank's blocks exceed it every
# rank streams its blocks chunk by chunk with its own reads, once a pass; the
# model must be one process's in memory (the references above), and the log
# must say the ranks streamed
memcase() { # reference name, np, budget, fit options
    ref=$1
    np=$2
    lim=$3
    shift 3
    $MPIRUN -np $np "$S" fit "${COHORT:-fit.h5}" "$@" --mem-limit "$lim" --out "$ref.mem.np$np.h5" --threads 1 --verbose > /dev/null 2> "$ref.mem.err"
    dump "$ref.mem.np$np.h5" > "$ref.mem.np$np.txt"
    if cmp -s "$ref.ref.txt" "$ref.mem.np$np.txt" &&
       grep -q -e "ranks streams its blocks" -e "on each MPI rank, its own chunks read alone" "$ref.mem.err"; then
        ok "$ref: mpirun -np $np --mem-limit $lim (ranks stream their blocks) = one process in memory"
    else bad "$ref: mpirun -np $np --mem-limit $lim differs (or did not stream)"; diff "$ref.ref.txt" "$ref.mem.np$np.txt" | head -20; fi
}
memcase warm 2 8M --formula "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex"
memcase offset 2 8M --family poisson --formula "prior_emergency_12m ~ age + sex + imd_decile + ltc_count + offset(log1p(gp_appointments_12m))"
memcase factor 3 6M --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + practice + imd_decile + ltc_count"

# ---- synth (lead): groups of 16 x 8,192 rows dealt round the ranks, rank 0
# appends them in order (record ids numbered there)
for np in 3; do # 5 groups over 3 ranks: two rounds, the last one short
    $MPIRUN -np $np "$S" synth --patients 600000 --seed 3 --out sy.np$np.h5 --threads 1 --quiet
    if cmp -s fit.h5 sy.np$np.h5; then ok "synth -np $np: cohort file byte-identical"
    else bad "synth -np $np: cohort file differs"; fi
done
rm -f sy.np*.h5

# ---- derive (lead): blocks of 65,536 patients dealt round the ranks, rank 0
# appends them in block order; a later index date, so some patients are
# excluded (died) and the counts travel with each block
sed -e 's/^index_date: 2025-12-01/index_date: 2026-09-01/' -e "s|\.\./codelists|$SRC/data/codelists|g" \
    "$SRC/data/specs/derive_default.yaml" > derive.yaml
"$S" derive fit.h5 --spec derive.yaml --out dv.ref.h5 --threads 2 > dv.ref.txt
if grep -q 'excluded died: [1-9]' dv.ref.txt; then ok "derive: the reference excludes patients who died"
else bad "derive: no exclusions in the reference: $(cat dv.ref.txt)"; fi
if [ -x "$SERIAL" ]; then
    "$SERIAL" derive fit.h5 --spec derive.yaml --out dv.serial.h5 --threads 1 --quiet
    if cmp -s dv.ref.h5 dv.serial.h5; then ok "derive: serial build = MPI build without mpirun (file bytes)"
    else bad "derive: serial build differs"; fi
fi
for np in 3; do # 10 blocks over 3 ranks: four rounds, the last one short (-np 2: the run below)
    $MPIRUN -np $np "$S" derive fit.h5 --spec derive.yaml --out dv.np$np.h5 --threads 1 > dv.np$np.txt
    if cmp -s dv.ref.h5 dv.np$np.h5; then ok "derive -np $np: features file byte-identical"
    else bad "derive -np $np: features file differs"; fi
    sed -i 's/^dv\.np[0-9]\.h5:/dv.ref.h5:/' dv.np$np.txt
    if cmp -s dv.ref.txt dv.np$np.txt; then ok "derive -np $np: the same report"
    else bad "derive -np $np: report differs"; diff dv.ref.txt dv.np$np.txt | head; fi
done
# a value that does not fit its type: the same message and exit code, once, and no file
sed 's/^features:$/features:\n  - {name: cost_tiny, kind: sum, table: spells, value: cost, window: [-365, -1], type: int8}/' \
    derive.yaml > derive_bad.yaml
rc1=0; "$S" derive fit.h5 --spec derive_bad.yaml --out dvbad.ref.h5 --quiet 2> dvbad.ref.err || rc1=$?
rc3=0; $MPIRUN -np 3 "$S" derive fit.h5 --spec derive_bad.yaml --out dvbad.np3.h5 --quiet 2> dvbad.np3.err || rc3=$?
grep '^strata derive: error' dvbad.np3.err > dvbad.np3.msg || true
if [ "$rc1" = 6 ] && [ "$rc3" = 6 ] && cmp -s dvbad.ref.err dvbad.np3.msg && [ ! -e dvbad.np3.h5 ]; then
    ok "derive -np 3: a failing value is reported once with the one-process message and exit 6"
else bad "derive -np 3 error: exit $rc1 vs $rc3; $(cat dvbad.ref.err) | $(cat dvbad.np3.msg)"; fi
rm -f dv.*.h5 dvbad.*

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
# a job that derives its features from the events first: derive over the ranks too
sed -e 's/^index_date: 2026-09-01/index_date: 2025-12-01/' derive.yaml > derive_job.yaml
sed -e 's/^cohort: job.h5$/cohort: job.h5\nderive: derive_job.yaml/' spec.yaml > spec_dv.yaml
runpair() { # spec, folder, np, label: one process, then mpirun -np, into one
    # folder name (the model records the path of features.h5), then compared
    "$S" run "$1" --out "$2" --threads 2 --quiet
    mv "$2" "$2.ref"
    $MPIRUN -np "$3" "$S" run "$1" --out "$2" --threads 1 --quiet
    mv "$2" "$2.np$3"
    runcmp "$2.ref" "$2.np$3" "$4"
}
runpair spec_dv.yaml rundv 2 "run with derive -np 2"
if grep -q '"distributed": *"synth, validation, derive, the model fit (GLM, Cox, the elastic net and its CV) and the scores' rundv.np2/manifest.json; then ok "run with derive -np 2: manifest says derive and the scores ran over the ranks"
else bad "run with derive -np 2: manifest: $(grep distributed rundv.np2/manifest.json)"; fi
# a job that synthesises its cohort (groups of 131,072 rows dealt round the
# ranks, rank 0 writes cohort.h5) and derives from it
sed -e 's/^cohort: job.h5$/synth:\n  icb: QOC\n  patients: 70000\n  seed: 5/' spec_dv.yaml > spec_sy.yaml
runpair spec_sy.yaml runsy 3 "run with synth and derive -np 3"
# a job whose model is a Cox fit: over the ranks' blocks of the sorted rows
cat > spec_cox.yaml <<'SPEC'
cohort: job.h5
model:
  family: cox
  formula: "Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + imd_decile + ltc_count + prior_emergency_12m + strata(pcn)"
  horizon: 365
evaluate:
  by: [sex]
SPEC
runpair spec_cox.yaml runcox 2 "run with a Cox model -np 2"
if grep -q '"distributed": *"synth, validation, derive, the model fit (GLM, Cox' runcox.np2/manifest.json; then ok "run with a Cox model -np 2: manifest says the Cox fit ran over the ranks"
else bad "run with a Cox model -np 2: manifest: $(grep distributed runcox.np2/manifest.json)"; fi
# memory: in the spec is every rank's for the fit (rank 0 sends it): a GLM
# whose ranks stream their blocks under it, the same bytes as one process
sed -e 's/^cohort: job.h5$/cohort: job.h5\nmemory: 1M/' spec.yaml > spec_mem.yaml
runpair spec_mem.yaml runmem 2 "run with memory: 1M -np 2"
# ... and the same bytes as the run without a budget: over the budget rule the
# outcome, risk, tiers and outputs went through rank 0's scratch file
# (docs/scale.md, "The run's memory by stage")
runcmp run.ref runmem.np2 "run with memory: 1M -np 2 = run without a budget"
# an elastic net (no CV) across the ranks, as `strata fit --alpha`, each rank
# streaming its chunks under memory: (a rank missing the cohort fails the job,
# so they all read it)
cat > spec_enet.yaml <<'SPEC'
cohort: job.h5
memory: 3M
model:
  family: binomial
  formula: "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits"
  alpha: 0.5
  nlambda: 30
  penalty_factor: {sexM: 0, ltc_count: 2}
evaluate:
  by: [sex]
SPEC
runpair spec_enet.yaml runenet 2 "run with an elastic net -np 2"
if grep -q '"distributed": *"synth, validation, derive, the model fit (GLM, Cox, the elastic net and its CV)' runenet.np2/manifest.json; then ok "run with an elastic net -np 2: manifest says the fit ran over the ranks"
else bad "run with an elastic net -np 2: manifest: $(grep distributed runenet.np2/manifest.json)"; fi
# the elastic net with cv: its fits dealt round the ranks (the full path and
# fold 2 on rank 0, folds 1 and 3 on rank 1), model.h5 (with the CV curve)
# and every output the bytes of one process
sed -e '/^memory: 3M$/d' -e 's/^  nlambda: 30$/  nlambda: 20\n  cv: 3\n  select: min/' spec_enet.yaml > spec_cv.yaml
runpair spec_cv.yaml runcv 2 "run with an elastic net and cv: 3 -np 2"
if grep -q '"folds": *3' runcv.np2/manifest.json; then ok "run with cv: 3 -np 2: manifest records 3 folds"
else bad "run with cv: 3 -np 2: manifest: $(grep folds runcv.np2/manifest.json)"; fi
rm -rf runsy.* rundv.* runcox.* runmem.* runenet.* runcv.*
if grep -q '"ranks": *2' run.np2/manifest.json; then ok "run -np 2: manifest records 2 ranks"
else bad "run -np 2: manifest has no ranks"; fi
node=$(uname -n)
if grep -q '"launcher": *"mpirun (Open MPI)"' run.np2/manifest.json && grep -q '"nodes": *1' run.np2/manifest.json &&
   grep -q "\"layout\": *\"$node: 2 ranks\"" run.np2/manifest.json; then ok "run -np 2: manifest records mpirun and $node: 2 ranks"
else bad "run -np 2: launcher/layout not recorded: $(grep -e launcher -e layout -e nodes run.np2/manifest.json | tr -d '\n')"; fi
if grep -q '"mpi"' run.np1/manifest.json; then bad "run -np 1: manifest names MPI ranks"
else ok "run -np 1: one process, no ranks in the manifest"; fi
# a rank that cannot open the job's cohort (its working directory has only the
# spec): every rank agrees before the fit's collectives, so the job stops with
# that rank's error instead of waiting for it (timeout: a hang fails the test)
rank1case() { # exit code, message, label: rank 0 in wd0, rank 1 in wd1
    rm -rf wd0/out
    rc=0
    timeout 120 $MPIRUN -np 1 -wdir "$PWD/wd0" "$S" run spec.yaml --out out --quiet : \
        -np 1 -wdir "$PWD/wd1" "$S" run spec.yaml --out out --quiet > /dev/null 2> wd.err || rc=$?
    if [ "$rc" = "$1" ] && [ "$(grep -c "strata run: error: $2" wd.err)" = 1 ] && [ ! -e wd0/out/report.html ]; then
        ok "run -np 2, $3: stopped with its error (exit $1), once, no report"
    else bad "run -np 2, $3: exit $rc: $(grep 'strata run' wd.err | head -2)"; fi
}
mkdir -p wd0 wd1
cp job.h5 wd0/ && cp spec.yaml wd0/ && cp spec.yaml wd1/
rank1case 4 './job.h5: cannot open' "cohort missing on rank 1"
# the scores are every rank's: with a model loaded (no fit), a rank that
# cannot read the model stops the job at the score stage with its error
cp run.ref/model.h5 wd0/
printf 'cohort: job.h5\nmodel:\n  family: binomial\n  load: model.h5\n' > wd0/spec.yaml
cp wd0/spec.yaml wd1/ && cp job.h5 wd1/
rank1case 5 './model.h5: not an HDF5 file' "model missing on rank 1 (the scores)"
rm -rf wd0 wd1
# validation over the ranks: each rank checks its slab of every column, rank 0
# replays the problems in one process's order (a bad age in each rank's slab,
# a bad IMD decile, a missing id): the same message, exit 6, once
"$S" synth --patients 5000 --seed 9 --out small.h5 --quiet
"$S" export small.h5 --out small.csv
awk -F, 'BEGIN{OFS=","} NR==4000{$7=150} NR==4500{$6=12} NR==300{$7=-3} NR==3000{$1=""} {print}' small.csv > bad.csv
"$S" import bad.csv --out bad.h5 --role patient_id=patient_id --role age=age --role imd_decile=imd_decile --role sex=sex --quiet
sed 's/^cohort: job.h5$/cohort: bad.h5/' spec.yaml > spec_bad.yaml
rc1=0; "$S" run spec_bad.yaml --out bad.ref --quiet 2> bad.ref.err || rc1=$?
rc2=0; $MPIRUN -np 2 "$S" run spec_bad.yaml --out bad.np2 --quiet 2> bad.np2.err || rc2=$?
sed -i '/^-----/,$d' bad.np2.err
if [ "$rc1" = 6 ] && [ "$rc2" = 6 ] && grep -q 'INVALID: 4 problems' bad.ref.err && grep -q 'row 3999 .*age in years 150' bad.ref.err &&
   cmp -s bad.ref.err bad.np2.err && [ ! -e bad.np2/report.html ]; then
    ok "run -np 2, an invalid cohort: validation over the ranks, the one-process message (4 problems), exit 6, once"
else bad "run -np 2, an invalid cohort: exit $rc1 vs $rc2"; diff bad.ref.err bad.np2.err | head; fi
rm -rf small.* bad.*
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
# under --mem-limit each rank streams its blocks of the sorted design through
# its own scratch file (its own reads): one process's bytes in memory
COHORT=job.h5 memcase cox_efron 2 3M --family cox --robust --formula "Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + ethnicity + ltc_count + prior_emergency_12m + strata(pcn)"
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

# ---- elastic net across ranks (issue 14; docs/scale.md, "The distributed elastic net") ----
# Each rank holds its chunks of the 16 fixed row ranges; every row sum is a chunk
# partial added in chunk order on every rank. The model file (the selected fit
# and the /elnet path) and `strata coef` must be the bytes of one process.
# With --cv every rank holds all rows and the fits are dealt round the ranks:
# the model file (with its CV curve) and `strata coef` are one process's.
# Under --mem-limit each rank streams the windows of its own chunks: one
# process's bytes in memory.
enetcase() { # name "np list" fit options: fitcase on job.h5, then strata coef
    COHORT=job.h5
    fitcase "$@"
    COHORT=
    name=$1
    C=$S # strata coef reads a file: the serial build's, which starts no MPI singleton
    [ -x "$SERIAL" ] && C=$SERIAL
    "$C" coef "$name.ref.h5" > "$name.ref.coef"
    for np in $2; do
        "$C" coef "$name.np$np.h5" > "$name.np$np.coef"
        if cmp -s "$name.ref.coef" "$name.np$np.coef"; then ok "$name: mpirun -np $np: strata coef"
        else bad "$name: mpirun -np $np: strata coef differs"; diff "$name.ref.coef" "$name.np$np.coef" | head -10; fi
    done
}
enetcase enet_binomial "2 3" --alpha 0.5 --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits"
COHORT=job.h5
memcase enet_binomial 2 3M --alpha 0.5 --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits"
COHORT=
enetcase enet_gaussian "2 3" --family gaussian --alpha 0.3 --weights ltc_count --penalty-factor sexM=0 --formula "bmi ~ rcs(age, 4) + sex + ethnicity + imd_decile + log(sbp)"
enetcase enet_poisson "3" --family poisson --alpha 1 --nlambda 30 --formula "prior_emergency_12m ~ age + sex + imd_decile + ltc_count + offset(log1p(gp_appointments_12m))"
# --cv 4 at -np 3: tasks 0 (the full path) and 3 on rank 0, 1 and 4 on rank 1, 2 on rank 2
enetcase enet_cv "3" --alpha 0.5 --cv 4 --nlambda 20 --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits"
if grep -q 'cv_mean' enet_cv.np3.txt; then ok "enet_cv: the model file holds the CV curve"
else bad "enet_cv: no CV curve in the model file"; fi
# --cv 4 at -np 2 under --mem-limit 3M: each rank streams the fits dealt to it and its folds' measures
$MPIRUN -np 2 "$S" fit job.h5 --alpha 0.5 --cv 4 --nlambda 20 --formula "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + imd_decile + ltc_count + efi_deficits" \
    --mem-limit 3M --out enet_cv.mem.np2.h5 --threads 1 --verbose > /dev/null 2> enet_cv.mem.err
dump enet_cv.mem.np2.h5 > enet_cv.mem.np2.txt
if cmp -s enet_cv.ref.txt enet_cv.mem.np2.txt && grep -q "each MPI rank reading alone for the fits dealt to it" enet_cv.mem.err; then
    ok "enet_cv: mpirun -np 2 --mem-limit 3M (each rank streaming its fits) = one process in memory"
else bad "enet_cv: mpirun -np 2 --mem-limit 3M differs (or did not stream)"; tail -3 enet_cv.mem.err; diff enet_cv.ref.txt enet_cv.mem.np2.txt | head -20; fi
rm -f enet_*.h5
# ---- end of the elastic net's block ----

[ -x "$SERIAL" ] || echo "note: no serial build at $SERIAL; compared with the MPI build run without mpirun only"
rm -f fit.h5 ./*.np*.h5 io.*.h5
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
