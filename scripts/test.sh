#!/bin/sh
# scripts/test.sh — the whole test suite: installs what is missing, builds the
# release preset and runs every test, then the debug-asan preset (AddressSanitizer
# + UndefinedBehaviorSanitizer) and runs every test again, then the mpi preset
# (Open MPI + parallel HDF5: the CLI only) and its `mpi` test, which compares
# mpirun -np 1/2/3 with the release build. Exits non-zero on any failure; ctest
# prints each run's summary.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
jobs=$(nproc)

echo "== release build: tests =="
ctest --preset release -j "$jobs"

echo "== debug-asan build (ASan + UBSan): tests =="
cmake --preset debug-asan >/dev/null
cmake --build --preset debug-asan -j "$jobs"
ctest --preset debug-asan -j "$jobs"

echo "== mpi build (Open MPI + parallel HDF5): mpi tests =="
cmake --preset mpi >/dev/null
cmake --build --preset mpi -j "$jobs"
ctest --preset mpi
