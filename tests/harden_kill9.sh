#!/bin/sh
# tests/harden_kill9.sh CLI WORKDIR [TRIALS] — issue 17 #13, the kill -9 test.
# Kills `strata import` (CSV and in-place events), `synth`, `derive`, `fit`
# (Cox, and an elastic-net path with CV) and `run`
# with SIGKILL after random delays (uniform over 1.3 x the command's measured
# run time) and checks after every kill:
#   - a single-file output either does not exist or is complete (byte-equal to
#     an uninterrupted run of the same command);
#   - no temporary is readable by anyone else: every <out>.tmp.* is 0600 and
#     every run staging folder (.strata-run.*) is 0700;
#   - a run folder with manifest.json holds exactly the files it lists, each
#     with the listed SHA-256 (one run, complete); one without a manifest
#     holds no visible file unless the publication journal (.strata-publish)
#     marks it interrupted, and the next run refuses it without --overwrite;
#   - the next uninterrupted command cleans the killed one's temporaries.
# Prints "N passed, 0 failed"; exits 1 on the first failure.
set -u
cli=$1
work=$2
trials=${3:-5}
seed=${STRATA_KILL9_SEED:-$$}
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
checks=0

fail() {
    echo "FAIL: $*"
    echo "$checks passed, 1 failed"
    exit 1
}

now() { date +%s.%N; }

# a random delay in [0, 1.3 * t) seconds, from the trial's own stream
delay() {
    awk -v s="$seed" -v k="$1" -v t="$2" 'BEGIN { srand(s * 1000 + k); printf "%.3f", rand() * 1.3 * t }'
}

# timed: runs "$@" and prints its wall time
timed() {
    t0=$(now)
    "$@" >/dev/null 2>&1 || fail "reference run failed: $*"
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

killed() { # killed DELAY CMD...: starts CMD, kills it with SIGKILL after DELAY s
    d=$1
    shift
    "$@" >/dev/null 2>&1 &
    pid=$!
    sleep "$d"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

no_readable_temporaries() {
    bad=$(find . -name '*.tmp.*' -type f -perm /077 2>/dev/null | grep -v '/\.strata-run\.' | head -3)
    [ -z "$bad" ] || fail "$1: temporaries readable by others: $bad"
    bad=$(find . -name '.strata-run.*' -type d ! -perm 700 2>/dev/null | head -3)
    [ -z "$bad" ] || fail "$1: staging folder not 0700: $bad"
    checks=$((checks + 1))
}

single_ok() { # single_ok WHAT FILE REFERENCE
    if [ -e "$2" ]; then
        cmp -s "$2" "$3" || fail "$1: $2 is there but differs from an uninterrupted run (partial?)"
    fi
    no_readable_temporaries "$1"
}

run_folder_ok() { # run_folder_ok WHAT DIR
    if [ -f "$2/manifest.json" ]; then
        python3 - "$2" <<'EOF' || fail "$1: $2 is not one complete run"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
listed = {o["path"]: o["sha256"] for o in m["outputs"]}
for p, h in listed.items():
    got = hashlib.sha256(open(os.path.join(d, p), "rb").read()).hexdigest()
    assert got == h, "%s: sha256 differs from the manifest (mixed or partial)" % p
extra = [e for e in os.listdir(d) if not e.startswith(".") and e != "manifest.json" and e not in listed]
assert not extra, "not in the manifest: %s" % extra
EOF
    elif [ -n "$(ls "$2" 2>/dev/null)" ] && [ ! -e "$2/.strata-publish" ]; then
        fail "$1: $2 holds outputs without a manifest and without the journal: $(ls "$2")"
    fi
    no_readable_temporaries "$1"
}

# ---- fixtures and reference (uninterrupted) outputs ----------------------
"$cli" synth --patients 60000 --seed 1 --out ref_synth.h5 --quiet || fail "synth fixture"
"$cli" export ref_synth.h5 --out pat.csv >/dev/null || fail "export fixture"
awk -v n=30000 'BEGIN { srand(7); print "id,sex,birth";
    for (i = 1; i <= n; i++) printf "p%d,%s,19%02d-0%d-1%d\n", i, (i % 2 ? "F" : "M"),
        30 + int(rand() * 60), 1 + int(rand() * 9), int(rand() * 9) }' >dp.csv
awk -v n=30000 -v e=300000 'BEGIN { srand(8); print "pid,admit,method,diag_01,los";
    for (i = 1; i <= e; i++) printf "p%d,202%d-0%d-1%d,%s,I%02d,%d\n", 1 + int(rand() * n),
        3 + int(rand() * 3), 1 + int(rand() * 9), int(rand() * 9),
        (rand() < .5 ? "emergency" : "elective"), int(rand() * 99), int(rand() * 20) }' >de.csv
cat >dspec.yaml <<'EOF'
index_date: 2025-04-01
features:
  - {name: em_12m, kind: count, table: spells, where: "method == emergency", window: [-365, -1]}
  - {name: los_12m, kind: sum, table: spells, value: los, window: [-365, -1]}
  - {name: ndiag, kind: distinct, table: spells, window: [-400, -1]}
outcomes:
  - {name: em_fu, kind: count, table: spells, window: [0, 364]}
EOF
for s in 1 2; do
    printf 'synth:\n  patients: 60000\n  seed: %s\nmodel:\n  formula: "emergency_admission_12m ~ age + sex + ltc_count"\nevaluate:\n  by: [sex]\nthreads: 1\n' "$s" >run$s.yaml
done
IMPORT="import pat.csv --role patient_id=patient_id --role pcn=pcn --role practice=practice --quiet --out"
EVENTS="import events de.csv --table spells --id pid --date admit --code diag_01 --code-system icd10 --cat method --value los --quiet --cohort"
# shellcheck disable=SC2086
t_import=$(timed "$cli" $IMPORT ref_import.h5)
"$cli" import dp.csv --out ref_pd.h5 --role patient_id=id --role sex=sex --role birth_date=birth --quiet || fail "fixture"
cp ref_pd.h5 ref_events.h5
# shellcheck disable=SC2086
t_events=$(timed "$cli" $EVENTS ref_events.h5)
t_synth=$(timed "$cli" synth --patients 60000 --seed 1 --out ref_synth2.h5 --quiet)
cmp -s ref_synth.h5 ref_synth2.h5 || fail "synth is not deterministic: the byte check cannot be used"
t_derive=$(timed "$cli" derive ref_events.h5 --spec dspec.yaml --out ref_derive.h5)
COX="fit ref_synth.h5 --family cox --formula Surv(time_to_emergency_days,emergency_event)~age+sex+ltc_count+strata(imd_decile) --quiet --out"
ELNET="fit ref_synth.h5 --formula emergency_admission_12m~age+sex+ltc_count+imd_decile --alpha 0.5 --nlambda 30 --cv 3 --quiet --out"
# shellcheck disable=SC2086
t_cox=$(timed "$cli" $COX ref_cox.h5)
# shellcheck disable=SC2086
t_elnet=$(timed "$cli" $ELNET ref_elnet.h5)
# shellcheck disable=SC2086
"$cli" $COX ref_cox2.h5 >/dev/null && "$cli" $ELNET ref_elnet2.h5 >/dev/null || fail "fit fixture"
cmp -s ref_cox.h5 ref_cox2.h5 && cmp -s ref_elnet.h5 ref_elnet2.h5 || fail "fits are not deterministic: the byte check cannot be used"
t_run=$(timed "$cli" run run1.yaml --out runs --quiet)
run_folder_ok "reference run" runs

k=0
while [ "$k" -lt "$trials" ]; do
    k=$((k + 1))
    # shellcheck disable=SC2086
    killed "$(delay "$k" "$t_import")" "$cli" $IMPORT imp.h5
    single_ok "import (trial $k)" imp.h5 ref_import.h5
    rm -f imp.h5

    cp ref_pd.h5 ev.h5
    # shellcheck disable=SC2086
    killed "$(delay "$((k + 100))" "$t_events")" "$cli" $EVENTS ev.h5
    if ! cmp -s ev.h5 ref_pd.h5; then
        single_ok "import events in place (trial $k)" ev.h5 ref_events.h5
    fi
    no_readable_temporaries "import events (trial $k)"

    killed "$(delay "$((k + 200))" "$t_synth")" "$cli" synth --patients 60000 --seed 1 --out syn.h5 --quiet
    single_ok "synth (trial $k)" syn.h5 ref_synth.h5
    rm -f syn.h5

    killed "$(delay "$((k + 300))" "$t_derive")" "$cli" derive ref_events.h5 --spec dspec.yaml --out der.h5
    single_ok "derive (trial $k)" der.h5 ref_derive.h5
    rm -f der.h5

    # shellcheck disable=SC2086
    killed "$(delay "$((k + 600))" "$t_cox")" "$cli" $COX cox.h5
    single_ok "fit cox (trial $k)" cox.h5 ref_cox.h5
    rm -f cox.h5
    # shellcheck disable=SC2086
    killed "$(delay "$((k + 700))" "$t_elnet")" "$cli" $ELNET en.h5
    single_ok "fit elastic net (trial $k)" en.h5 ref_elnet.h5
    rm -f en.h5

    # a re-run with another seed into the used folder, and a first run into a new one
    killed "$(delay "$((k + 400))" "$t_run")" "$cli" run run$((k % 2 + 1)).yaml --out runs --overwrite --quiet
    run_folder_ok "run --overwrite (trial $k)" runs
    rm -rf fresh
    killed "$(delay "$((k + 500))" "$t_run")" "$cli" run run2.yaml --out fresh --quiet
    run_folder_ok "run into a new folder (trial $k)" fresh
    if [ -e fresh/.strata-publish ]; then
        "$cli" run run2.yaml --out fresh --quiet >out.log 2>&1
        [ $? -eq 2 ] && grep -q "interrupted" out.log || fail "an interrupted publication was not refused: $(cat out.log)"
        checks=$((checks + 1))
    fi
done

# uninterrupted commands clean what the killed ones left
# shellcheck disable=SC2086
"$cli" $IMPORT imp.h5 || fail "import after kills"
cp ref_pd.h5 ev.h5
# shellcheck disable=SC2086
"$cli" $EVENTS ev.h5 || fail "import events after kills"
"$cli" synth --patients 60000 --seed 1 --out syn.h5 --quiet || fail "synth after kills"
"$cli" derive ref_events.h5 --spec dspec.yaml --out der.h5 >/dev/null || fail "derive after kills"
# shellcheck disable=SC2086
"$cli" $COX cox.h5 && "$cli" $ELNET en.h5 || fail "fits after kills"
"$cli" run run1.yaml --out runs --overwrite --quiet || fail "run after kills"
"$cli" run run2.yaml --out fresh --overwrite --quiet || fail "run after kills"
left=$(find . -name '*.tmp.*' -o -name '.strata-run.*' -o -name '.strata-publish' | head -5)
[ -z "$left" ] || fail "temporaries of killed commands not cleaned: $left"
run_folder_ok "run after kills" runs
run_folder_ok "run after kills" fresh
cmp -s imp.h5 ref_import.h5 && cmp -s ev.h5 ref_events.h5 && cmp -s syn.h5 ref_synth.h5 && cmp -s der.h5 ref_derive.h5 &&
    cmp -s cox.h5 ref_cox.h5 && cmp -s en.h5 ref_elnet.h5 ||
    fail "outputs after kills differ from the references"
checks=$((checks + 1))
echo "kill -9: $trials trials each of import, import events, synth, derive, fit cox, fit elastic net, run --overwrite, run (seed $seed)"
echo "$checks passed, 0 failed"
