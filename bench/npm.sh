#!/usr/bin/env bash
# bench/npm.sh — plain `npm ci --ignore-scripts` vs `lockgate npm ci` on a real 900+ package
# lockfile served by a loopback Verdaccio, plus the cost of a pass-through command. One run prints
# every figure and its ratio against the unguarded tool.
#
# The first run builds the data set once (needs the npm registry): a Verdaccio with an uplink to
# registry.npmjs.org resolves bench/npm-project.json and caches every tarball in
# bench/.data/npm/storage. After that the Verdaccio runs with no uplink (offline). The lockfile's
# `resolved` URLs are rewritten to https://registry.npmjs.org/ as in a real project; plain npm reaches
# the bench registry with --registry (npm replaces the registry.npmjs.org host by default) and
# lockgate through `[npm] registry` in lockgate.toml.
#
# Usage: bench/npm.sh [ROUNDS]   (default 3; medians are reported)
set -euo pipefail

rounds="${1:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/bench/.data/npm"
port=48731
. "$root/bench/lib.sh"

if [ ! -f "$data/project/package-lock.json" ]; then
  echo "bench: building the data set through Verdaccio's uplink to registry.npmjs.org (once)"
  rm -rf "$data/storage" "$data/project" && mkdir -p "$data/project"
  cp "$root/bench/npm-project.json" "$data/project/package.json"
  start_registry '{npmjs: {url: "https://registry.npmjs.org/", timeout: 60s}}'
  (cd "$data/project" && npm install --package-lock-only --ignore-scripts --omit-lockfile-registry-resolved=false >/dev/null)
  (cd "$data/project" && npm ci --ignore-scripts --cache "$data/fill-cache" >/dev/null)
  rm -rf "$data/fill-cache" "$data/project/node_modules"
  sed -i "s#\"resolved\": \"$reg#\"resolved\": \"https://registry.npmjs.org/#" "$data/project/package-lock.json"
  stop_registry
fi
printf '[npm]\nregistry = "%s"\n' "$reg" > "$data/project/lockgate.toml"
packages=$(grep -c '"resolved":' "$data/project/package-lock.json")
start_registry '{}'


plain() { rm -rf "$data/project/node_modules"; (cd "$data/project" && "$npm_bin" ci --ignore-scripts --no-audit --registry="$reg" --cache "$1"); }
guarded() { rm -rf "$data/project/node_modules"; (cd "$data/project" && LOCKGATE_SYSTEM_CONFIG= LOCKGATE_CACHE_DIR="$2" LOCKGATE_REAL_NPM="$npm_bin" npm_config_cache="$1" "$lockgate" npm ci); }

declare -A t
for r in $(seq "$rounds"); do
  rm -rf "$data/c" "$data/store"
  t[plain_cold]+=" $(ms plain "$data/c")"
  t[plain_warm]+=" $(ms plain "$data/c")"            # npm cache warm
  rm -rf "$data/c"
  t[lg_cold]+=" $(ms guarded "$data/c" "$data/store")"  # empty store, empty npm cache
  t[lg_warm_cache]+=" $(ms guarded "$data/c" "$data/store")"  # warm store, warm npm cache
  rm -rf "$data/c"
  t[lg_warm]+=" $(ms guarded "$data/c" "$data/store")"  # warm store, empty npm cache
  echo "bench: round $r/$rounds done" >&2
done
declare -A m
for k in "${!t[@]}"; do m[$k]=$(echo "${t[$k]}" | median); done

# Pass-through: lockgate's own cost, isolated by making the "real npm" /bin/true, and the real thing.
shim_dir="$data/shims"; mkdir -p "$shim_dir"; ln -sfn "$lockgate" "$shim_dir/npm"
# Interleaved (direct, shim, direct, shim…) so load changes hit both sides alike; mean ms each.
pt() { # N DIRECT... -- SHIM...
  local n=$1 i s e d=0 g=0; shift
  local -a direct=() shim=()
  while [ "$1" != "--" ]; do direct+=("$1"); shift; done; shift; shim=("$@")
  for i in $(seq "$n"); do
    s=$(date +%s%N); "${direct[@]}" >/dev/null; e=$(date +%s%N); d=$((d + e - s))
    s=$(date +%s%N); "${shim[@]}" >/dev/null; e=$(date +%s%N); g=$((g + e - s))
  done
  awk -v d="$d" -v g="$g" -v n="$n" 'BEGIN {printf "%.2f %.2f\n", d / n / 1e6, g / n / 1e6}'
}
read -r true_direct true_shim < <(LOCKGATE_REAL_NPM=/bin/true pt 300 /bin/true --version -- "$shim_dir/npm" --version)
read -r npm_direct npm_shim < <(pt 20 "$npm_bin" --version -- "$shim_dir/npm" --version)

echo
echo "lockgate npm benchmark — $packages packages, median of $rounds rounds, $(nproc) cores"
printf '%-52s %9s %7s\n' "case" "ms" "ratio"
printf '%-52s %9s %7s\n' "plain npm ci, empty npm cache" "${m[plain_cold]}" "1.00"
printf '%-52s %9s %7s\n' "lockgate npm ci, cold store, empty npm cache" "${m[lg_cold]}" "$(ratio "${m[lg_cold]}" "${m[plain_cold]}")"
printf '%-52s %9s %7s\n' "lockgate npm ci, warm store, empty npm cache" "${m[lg_warm]}" "$(ratio "${m[lg_warm]}" "${m[plain_cold]}")"
printf '%-52s %9s %7s\n' "plain npm ci, warm npm cache" "${m[plain_warm]}" "1.00"
printf '%-52s %9s %7s\n' "lockgate npm ci, warm store, warm npm cache" "${m[lg_warm_cache]}" "$(ratio "${m[lg_warm_cache]}" "${m[plain_warm]}")"
echo
printf 'pass-through, lockgate alone (real tool = /bin/true): %s ms vs %s ms direct → overhead %s ms\n' \
  "$true_shim" "$true_direct" "$(awk -v a="$true_shim" -v b="$true_direct" 'BEGIN {printf "%.2f", a - b}')"
printf 'pass-through `npm --version`: %s ms through the shim vs %s ms direct (ratio %s)\n' \
  "$npm_shim" "$npm_direct" "$(ratio "$npm_shim" "$npm_direct")"
(cd "$root" && cargo run --release --quiet --example hash_throughput)
