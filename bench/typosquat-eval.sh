#!/usr/bin/env bash
# Prints the typosquat detector's figures in one run: recall on real typosquats, false positives
# on the popular lists and on legitimate near-names, and names checked per second (release build).
# Data and sources: bench/typosquat/README.md. Extra arguments `npm|pypi FILE` check FILE's names instead.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release --example typosquat_eval -- "$@"
