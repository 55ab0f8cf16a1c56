#!/bin/sh
# tests/blas_threads.sh STRATA WORKDIR — the same model bytes whatever
# OpenBLAS's own thread count (OPENBLAS_NUM_THREADS 1 and 2, strata's threads
# 1 and 2): a fit with a 51-level practice factor, whose solve and covariance
# go through LAPACK's dpotrf/dpotri on the kept system. OpenBLAS threads those
# for larger systems and rounds differently with its thread count; strata runs
# them on one BLAS thread (models/linalg/linalg.c), so the covariance's last
# bits no longer follow the environment (they did: 0.0017455861073550454 vs
# ...456 at 600,000 patients before the fix).
set -eu
S=$1
W=$2
rm -rf "$W"
mkdir -p "$W"
cd "$W"
"$S" synth --patients 600000 --seed 3 --out fit.h5 --quiet
dump() { h5dump -m '%.17g' "$1" | grep -v -e 'T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z' -e 'OpenBLAS' -e '^HDF5 "'; }
F="emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + practice + imd_decile + ltc_count"
fail=0
for bt in 1 2; do
    for st in 1 2; do
        OPENBLAS_NUM_THREADS=$bt "$S" fit fit.h5 --formula "$F" --out "m$bt$st.h5" --threads $st --quiet
        dump "m$bt$st.h5" > "m$bt$st.txt"
    done
done
n=$(grep -c '(' m11.txt)
[ "$n" -gt 1000 ] || { echo "FAIL model dump has only $n values"; exit 1; }
for k in 12 21 22; do
    if cmp -s m11.txt "m$k.txt"; then echo "ok   OPENBLAS_NUM_THREADS=${k%?} threads=${k#?}: same bytes as 1/1 ($n values)"
    else echo "FAIL OPENBLAS_NUM_THREADS=${k%?} threads=${k#?} differs"; diff m11.txt "m$k.txt" | head -6; fail=1; fi
done
rm -f fit.h5 m*.h5
exit $fail
