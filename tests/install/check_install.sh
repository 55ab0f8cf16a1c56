#!/bin/sh
# tests/install/check_install.sh BUILD_DIR SOURCE_DIR — installs strata into a
# scratch prefix, builds tests/install/consumer.c against it with pkg-config and
# with find_package(strata), runs both and checks what they print.
set -eu
build=$1 src=$2
work=$build/test-tmp/install
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib* | head -n 1)
for f in include/strata/strata.h include/strata/core.h include/strata/cohort.h; do
  test -f "$work/prefix/$f" || { echo "FAIL: $f not installed"; exit 1; }
done
test -f "$libdir/pkgconfig/strata.pc" || { echo "FAIL: strata.pc not installed"; exit 1; }
test -f "$libdir/cmake/strata/strataConfig.cmake" || { echo "FAIL: strataConfig.cmake not installed"; exit 1; }
expect="rows, ids 7 8 9"

# 1. pkg-config, shared library
PKG_CONFIG_PATH="$libdir/pkgconfig" cc -std=c11 -o "$work/consumer_pc" "$src/tests/install/consumer.c" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs strata)
out=$(LD_LIBRARY_PATH="$libdir" "$work/consumer_pc" "$work/a.h5")
echo "$out" | grep -q "3 $expect" || { echo "FAIL pkg-config consumer: $out"; exit 1; }

# 2. find_package(strata)
cmake -S "$src/tests/install" -B "$work/cm" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
out=$(LD_LIBRARY_PATH="$libdir" "$work/cm/consumer" "$work/b.h5")
echo "$out" | grep -q "3 $expect" || { echo "FAIL find_package consumer: $out"; exit 1; }
echo "install consumer: pkg-config and find_package builds both print: $out"
