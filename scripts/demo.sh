#!/bin/sh
# scripts/demo.sh — the main job on the bundled default data: installs what is
# missing, builds, then checks and describes the bundled cohort. (Grows into
# synth → fit → score → evaluate → stratify → report as those stages land.)
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
out=${STRATA_OUT:-strata-out}
mkdir -p "$out"
./build/strata validate data/sample/example.h5
./build/strata info data/sample/example.h5
