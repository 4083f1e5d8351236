#!/usr/bin/env bash
# Writes bench/typosquat/ages.tsv: for every legitimate name of the typosquat evaluation whose
# verdict a registry age can change (`typosquat_eval needs-age`), when the public registry says it
# was first published and when that was asked (scripts/registry-dates.py: the clock lockgate
# reads). With --sample, also bench/typosquat/pypi-sample.tsv: a fixed random sample of PyPI's
# projects with their first upload (about 3,500 requests), from which the evaluation measures what
# the age-gated rules cost new packages. The evaluation (bench/typosquat-eval.sh) then judges
# offline and reproducibly. Needs registry.npmjs.org and pypi.org.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --example typosquat_eval
needs=$(mktemp)
trap 'rm -f "$needs"' EXIT
./target/release/examples/typosquat_eval needs-age | sort -u > "$needs"
python3 scripts/registry-dates.py ages "$needs" > bench/typosquat/ages.tsv
echo "wrote bench/typosquat/ages.tsv ($(grep -vc '^#' bench/typosquat/ages.tsv) names)"
if [ "${1:-}" = --sample ]; then
  python3 scripts/registry-dates.py sample > bench/typosquat/pypi-sample.tsv
  echo "wrote bench/typosquat/pypi-sample.tsv ($(grep -vc '^#' bench/typosquat/pypi-sample.tsv) projects)"
fi
