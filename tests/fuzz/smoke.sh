#!/bin/sh
# tests/fuzz/smoke.sh SOURCE_DIR BUILD_DIR [SECONDS] — the `fuzz` ctest: builds
# the libFuzzer harnesses with clang in BUILD_DIR/fuzz-smoke (ASan+UBSan,
# -j2) and runs each for SECONDS (default 3) over its seed corpus; new inputs
# go to a scratch corpus, never into the checked-in seeds. Fails on any crash,
# leak or time-out; the reproducer is left in BUILD_DIR/fuzz-smoke/artifacts.
set -eu
src=$1
build=$2/fuzz-smoke
secs=${3:-3}
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$src" -B "$build" -DSTRATA_BUILD_FUZZ=ON -DSTRATA_SANITIZE=ON \
    -DSTRATA_WERROR=OFF -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build "$build" -j2 --target fuzz_yaml fuzz_mapping fuzz_csv fuzz_cohort fuzz_formula fuzz_model >/dev/null
mkdir -p "$build/artifacts"
for h in yaml mapping csv cohort formula model; do
  scratch="$build/scratch/$h"
  rm -rf "$scratch" && mkdir -p "$scratch"
  echo "fuzz_$h: ${secs}s"
  ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=2048 -artifact_prefix="$build/artifacts/$h-" -print_final_stats=1 \
    "$scratch" "$src/tests/fuzz/corpus/$h" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
  if ls "$build/artifacts/$h-"* >/dev/null 2>&1; then
    echo "fuzz_$h: crash reproducer(s) in $build/artifacts" >&2
    exit 1
  fi
done
