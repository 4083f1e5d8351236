#!/usr/bin/env bash
# bench/cooldown.sh — what the release-age cooldown costs a route-mode install: `lockgate npm
# install` (no lockfile: resolve through the gate, then install the new lockfile) with
# `[cooldown] min-age = "0"` (off) vs the default "3d", served by a loopback Verdaccio.
#
# Projects: `small` (express, axios, chalk, commander, debug, lodash: ~100 packages) or `large`
# (bench/npm-project.json, the 947-package project of bench/npm.sh).
#
# The first run builds the data set once (needs the npm registry): a Verdaccio with an uplink to
# registry.npmjs.org caches the packuments (with their `time`) and tarballs (`large` starts from
# bench/npm.sh's storage when it exists). The uplink stays configured with a 30-day `maxage`, so
# the warm-up runs fetch once the older versions the cooldown picks instead of the newest, and the
# timed rounds are served from the local storage. Rounds alternate the two settings, with a warm
# verified store and a warm npm cache, so the difference is the gate's filtering (full packuments
# where the abbreviated one shows a change within min-age, parsed and rewritten).
#
# Usage: bench/cooldown.sh [ROUNDS] [small|large]   (default 5 small; medians are reported)
set -euo pipefail

rounds="${1:-5}"
project="${2:-small}"
root="$(cd "$(dirname "$0")/.." && pwd)"
case "$project" in
  small) data="$root/bench/.data/cooldown"; port=48733
    manifest='{"name":"cooldown-bench","version":"1.0.0","private":true,"dependencies":{"express":"^4.19.0","axios":"^1.6.0","chalk":"^4.1.2","commander":"^11.0.0","debug":"^4.3.4","lodash":"^4.17.21"}}' ;;
  large) data="$root/bench/.data/cooldown-large"; port=48734
    manifest="$(cat "$root/bench/npm-project.json")" ;;
  *) echo "usage: bench/cooldown.sh [ROUNDS] [small|large]" >&2; exit 2 ;;
esac
. "$root/bench/lib.sh"
mkdir -p "$data/project"
uplink='{npmjs: {url: "https://registry.npmjs.org/", timeout: 60s, maxage: 30d}}'

if [ ! -f "$data/built" ]; then
  echo "bench: building the $project data set through Verdaccio's uplink to registry.npmjs.org (once)"
  rm -rf "$data/storage" "$data/project" && mkdir -p "$data/project"
  if [ "$project" = large ] && [ -d "$root/bench/.data/npm/storage" ]; then cp -r "$root/bench/.data/npm/storage" "$data/storage"; fi
  echo "$manifest" > "$data/project/package.json"
  start_registry "$uplink"
  (cd "$data/project" && npm install --ignore-scripts --cache "$data/fill-cache" >/dev/null)
  rm -rf "$data/fill-cache" "$data/project/node_modules" "$data/project/package-lock.json"
  stop_registry
  touch "$data/built"
fi
start_registry "$uplink"

run() { # $1 = min-age
  printf '[npm]\nregistry = "%s"\n[cooldown]\nmin-age = "%s"\n' "$reg" "$1" > "$data/project/lockgate.toml"
  echo "$manifest" > "$data/project/package.json"
  rm -rf "$data/project/node_modules" "$data/project/package-lock.json"
  (cd "$data/project" && LOCKGATE_SYSTEM_CONFIG= LOCKGATE_CACHE_DIR="$data/store" LOCKGATE_REAL_NPM="$npm_bin" \
    npm_config_cache="$data/npm-cache" "$lockgate" npm install)
}

# Warm the store, the npm cache and Verdaccio's storage (the versions the cooldown picks instead).
run 0 >/dev/null 2>"$data/last.err" || { cat "$data/last.err" >&2; exit 1; }
run 3d >/dev/null 2>"$data/last.err" || { cat "$data/last.err" >&2; exit 1; }
declare -A t
for r in $(seq "$rounds"); do
  t[off]+=" $(ms run 0)"
  t[on]+=" $(ms run 3d)"
  echo "bench: round $r/$rounds done" >&2
done
run 3d >/dev/null 2>"$data/last.err" || true
held=$(grep -o 'cooldown: [0-9]* version' "$data/last.err" | grep -o '[0-9]*' || echo 0)
packages=$(grep -c '"resolved":' "$data/project/package-lock.json" || echo "?")
off=$(echo "${t[off]}" | median); on=$(echo "${t[on]}" | median)
echo
echo "lockgate cooldown benchmark — route-mode npm install, $project project, $packages packages, median of $rounds rounds, $(nproc) cores"
printf '%-44s %9s %7s\n' "case" "ms" "ratio"
printf '%-44s %9s %7s\n' "[cooldown] min-age = \"0\" (off)" "$off" "1.00"
printf '%-44s %9s %7s\n' "[cooldown] min-age = \"3d\" (default)" "$on" "$(ratio "$on" "$off")"
echo "versions held back by the 3d cooldown on this data set: $held"
