#!/bin/sh
# bench/run_england_events.sh — all England from events at scale: `strata synth
# --england --patients N` (patients + linked event tables), `strata derive` with
# data/specs/derive_default.yaml, then `strata fit` of the default model under a
# memory budget; each step's wall time, CPU time and peak RSS (/usr/bin/time -v),
# the load average around it and the file sizes. Usage:
#   bench/run_england_events.sh N [DIR] [THREADS] [MEM_LIMIT]
# (defaults: DIR /tmp/strata_england, THREADS 2, MEM_LIMIT 1G). Needs about
# 530 bytes of disk per patient (cohort with events + derived cohort).
set -eu
N=${1:?usage: run_england_events.sh N [DIR] [THREADS] [MEM_LIMIT]}
DIR=${2:-/tmp/strata_england}
T=${3:-2}
MEM=${4:-1G}
SRC=$(cd "$(dirname "$0")/.." && pwd)
STRATA=${STRATA:-$SRC/build/strata}
mkdir -p "$DIR"

step() { # name, then the command
    name=$1
    shift
    l0=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v "$@" >"$DIR/$name.out" 2>"$DIR/$name.time"
    l1=$(cut -d' ' -f1-3 /proc/loadavg)
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$DIR/$name.time")
    user=$(sed -n 's/.*User time (seconds): //p' "$DIR/$name.time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$DIR/$name.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$DIR/$name.time")
    echo "| $name | $N | $T | $wall | $user + $sys | $((rss / 1024)) | $l0 → $l1 |"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n) $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB;" \
     "git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "| step | patients | threads | wall (m:ss) | CPU s (user + sys) | peak RSS MB | load before → after |"
echo "|---|---:|---:|---:|---:|---:|---|"
step synth "$STRATA" synth --england --patients "$N" --seed 1 --threads "$T" --out "$DIR/england.h5"
step derive "$STRATA" derive "$DIR/england.h5" --spec "$SRC/data/specs/derive_default.yaml" \
    --out "$DIR/england_derived.h5" --threads "$T"
step fit "$STRATA" fit "$DIR/england_derived.h5" --family binomial --mem-limit "$MEM" \
    --formula "emergency_admission_12m ~ age + sex + imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m" \
    --threads "$T" --out "$DIR/england_model.h5"
echo
tail -n 2 "$DIR/synth.out"
tail -n 2 "$DIR/derive.out"
ls -l "$DIR/england.h5" "$DIR/england_derived.h5"
