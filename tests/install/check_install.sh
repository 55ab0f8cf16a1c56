#!/bin/sh
# tests/install/check_install.sh BUILD_DIR SOURCE_DIR — installs strata into a
# scratch prefix, builds tests/install/consumer.c against it with pkg-config and
# with find_package(strata), runs both and checks what they print; then runs
# the installed `strata` from another directory (--version, synth, the default
# job), again after moving the prefix, and a copy of the build's binary away
# from the source tree (the out-of-tree build's compile-time data default).
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

fail() { echo "FAIL: $*"; exit 1; }
unset STRATA_DATA_DIR
# 3. the installed CLI: rpath (no LD_LIBRARY_PATH), data under share/strata
for f in share/strata/reference/practices.csv share/strata/reference/areas.csv \
         share/strata/specs/default.yaml share/man/man1/strata.1 \
         share/bash-completion/completions/strata; do
  test -f "$work/prefix/$f" || fail "$f not installed"
done
readelf -d "$work/prefix/bin/strata" | grep -q 'R.*PATH.*\$ORIGIN/\.\./lib' || fail "strata has no \$ORIGIN rpath"
readelf -d "$libdir/libstrata.so" | grep -q 'R.*PATH.*\$ORIGIN' || fail "libstrata.so has no \$ORIGIN rpath"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
ver=$("$work/prefix/bin/strata" --version)
echo "$ver" | grep -q "^strata [0-9]" || fail "--version: $ver"
for k in build: cflags: openblas: hdf5: "data:     $work/prefix/share/strata/reference"; do
  echo "$ver" | grep -q "^$k" || fail "--version lacks '$k': $ver"
done
"$work/prefix/bin/strata" synth --patients 2000 --quiet --out s.h5 || fail "installed synth exited $?"
"$work/prefix/bin/strata" info s.h5 | grep -q "2000" || fail "installed synth: not 2000 rows"
"$work/prefix/bin/strata" run "$src/data/specs/default.yaml" --out job >run.log 2>&1 || { cat run.log; fail "installed default job"; }
for f in report.html pcn_summary.csv manifest.json; do test -s "job/$f" || fail "default job wrote no $f"; done
grep -q "patients *541595" run.log || fail "default job summary: $(cat run.log)"
echo "installed strata: --version, synth and the default job run from $work/elsewhere"
# the installed man page renders, and documents what --help says
MANWIDTH=100 man -l "$work/prefix/share/man/man1/strata.1" 2>/dev/null >man.txt || fail "man -l strata.1"
for k in "strata run" "strata import events" "--json" "STRATA_PROGRESS_INTERVAL"; do
  grep -q -- "$k" man.txt || fail "the man page lacks '$k'"
done
# the installed completion completes commands and a command's options
comp=$(bash -c ". '$work/prefix/share/bash-completion/completions/strata'
COMP_WORDS=(strata ev); COMP_CWORD=1; _strata; echo \"\${COMPREPLY[*]}\"
COMP_WORDS=(strata run --j); COMP_CWORD=2; _strata; echo \"\${COMPREPLY[*]}\"")
[ "$comp" = "$(printf 'evaluate\n--json')" ] || fail "completion: $comp"
echo "installed man page and bash completion: rendered, and complete 'ev' and 'run --j'"
# the installed Python package loads the installed library (docs/python.md)
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  pyout=$(cd "$work/elsewhere" && PYTHONPATH="$libdir/python3/dist-packages" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c '
import strata
c = strata.Context().open_cohort("s.h5")
print(strata.library_path, c.nrows, c.codes("icb")[1])') || fail "installed python package: $pyout"
  echo "$pyout" | grep -q "^$libdir/libstrata.so.* 2000 \['QOC'\]$" || fail "installed python package: $pyout"
  echo "installed python package: $pyout"
fi

# 4. a moved prefix still finds its library and data ($ORIGIN-relative)
mv "$work/prefix" "$work/moved"
"$work/moved/bin/strata" --version | grep -q "^data:     $work/moved/share/strata/reference" \
  || fail "moved prefix: $("$work/moved/bin/strata" --version | tail -n 1)"
"$work/moved/bin/strata" synth --patients 500 --quiet --out m.h5 || fail "moved prefix: synth"
mv "$work/moved" "$work/prefix"

# 5. a binary away from any data/ beside it (an out-of-tree build) uses the
#    compile-time default: the source tree's data/reference
mkdir -p "$work/oot/bin"
cp "$build/strata" "$work/oot/bin/strata"
"$work/oot/bin/strata" synth --patients 500 --quiet --out o.h5 || fail "out-of-tree binary: synth"
"$work/oot/bin/strata" --version | grep -q "^data:     .*/reference" || fail "out-of-tree binary: no data line"
echo "moved prefix and out-of-tree binary find the reference data"
