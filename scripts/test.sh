#!/bin/sh
# scripts/test.sh — the whole test suite: installs what is missing, builds the
# release preset and runs every test, then the debug-asan preset (AddressSanitizer
# + UndefinedBehaviorSanitizer) and runs every test again. Exits non-zero on any
# failure; ctest prints each run's summary.
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
