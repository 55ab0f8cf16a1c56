#!/bin/sh
# scripts/demo.sh — the main job on the bundled default data: installs what is
# missing, builds, then runs `strata run data/specs/default.yaml`: a synthetic
# cohort of one real ICB → risk model → evaluation → stratification → PCN
# tables, intervention lists and the HTML report in strata-out/.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
out=${STRATA_OUT:-strata-out}
./build/strata run data/specs/default.yaml --out "$out" --overwrite
./build/strata validate --summary-only "$out/cohort.h5"
