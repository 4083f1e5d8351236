#!/usr/bin/env bash
# THE test command (the README's, and CI's via .ci/run): installs the test tools if needed, then
# checks formatting, runs clippy with warnings as errors, and runs every test against the real
# registries. Stops at the first failure. Extra arguments go to `cargo test`, e.g.
#   scripts/test.sh --test testbed
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
    local name=$1 start=${EPOCHREALTIME/./} us
    shift
    echo "test.sh: $name"
    "$@"
    us=$((${EPOCHREALTIME/./} - start))
    printf 'test.sh: %s done in %d.%ds\n' "$name" $((us / 1000000)) $((us / 100000 % 10))
}

step setup ./scripts/setup-test-env.sh
step fmt cargo fmt --all -- --check
step clippy cargo clippy --all-targets -- -D warnings
step test cargo test "$@"
