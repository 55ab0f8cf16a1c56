#!/bin/sh
# scripts/setup.sh [--test] — installs the Debian packages strata needs that are
# missing (with sudo when not root), then configures and builds the release
# preset (CLI at build/strata). --test adds what the test suite needs.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential cmake pkg-config libopenblas-dev liblapacke-dev libhdf5-dev hdf5-tools
libcmocka-dev libyaml-dev libcsv-dev libjansson-dev libssl-dev libxlsxwriter-dev"
# Test-only: h5py runs the format doc's example; chromium renders the HTML report;
# pytest runs the Python binding's tests (python/tests).
# The MPI build's test (tests/mpi_compare.sh) needs Open MPI and parallel HDF5.
TEST_PKGS="python3-h5py python3-numpy python3-pytest python3-openpyxl chromium clang libclang-rt-14-dev
libopenmpi-dev openmpi-bin libhdf5-openmpi-dev"
[ "${1:-}" = "--test" ] && PKGS="$PKGS $TEST_PKGS"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "setup: installing$missing" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
