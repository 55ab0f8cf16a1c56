# tests/compare_common.sh — sourced by mpi_compare.sh and srun_compare.sh:
# the pass/fail tally and a model file's contents at full precision less the
# provenance that may differ between runs (time, BLAS threads).
export OMPI_MCA_mpi_yield_when_idle=1
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
dump() { h5dump -m '%.17g' "$1" | grep -v -e 'T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z' -e 'OpenBLAS' -e '^HDF5 "'; }
