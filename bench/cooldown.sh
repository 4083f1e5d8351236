#!/usr/bin/env bash
# bench/cooldown.sh — what the release-age cooldown costs a route-mode install: `lockgate npm
# install` (no lockfile: resolve through the gate, then install the new lockfile) with
# `[cooldown] min-age = "0"` (off) vs the default "3d", on a small real project (express, axios,
# chalk, commander, debug, lodash and their dependencies) served by a loopback Verdaccio.
#
# The first run builds the data set once (needs the npm registry): a Verdaccio with an uplink to
# registry.npmjs.org caches the packuments (with their `time`) and tarballs. After that the
# Verdaccio runs offline. Rounds alternate the two settings, with a warm verified store and a warm
# npm cache, so the difference is the gate's filtering (full packuments where the abbreviated one
# shows a change within min-age, parsed and rewritten).
#
# Usage: bench/cooldown.sh [ROUNDS]   (default 5; medians are reported)
set -euo pipefail

rounds="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/bench/.data/cooldown"
port=48733
reg="http://127.0.0.1:$port/"
npm_bin="$(command -v npm)"
verdaccio="${VERDACCIO:-$root/.tools/verdaccio/node_modules/.bin/verdaccio}"
[ -x "$verdaccio" ] || "$root/scripts/setup-test-env.sh"
(cd "$root" && cargo build --release --quiet)
lockgate="$root/target/release/lockgate"
mkdir -p "$data"

pid=""
stop_registry() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop_registry EXIT
start_registry() { # $1 = uplinks yaml
  cat > "$data/config.yaml" <<YAML
storage: $data/storage
uplinks: $1
packages:
  '**':
    access: \$all
    publish: \$all
    $( [ "$1" = "{}" ] || echo "proxy: npmjs" )
server:
  keepAliveTimeout: 60
log: { type: stdout, format: pretty, level: error }
YAML
  "$verdaccio" -c "$data/config.yaml" -l "127.0.0.1:$port" > "$data/verdaccio.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "$reg-/ping" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench: Verdaccio did not start; see $data/verdaccio.log" >&2; exit 1
}

printf 'registry=%s\nfund=false\naudit=false\nupdate-notifier=false\n' "$reg" > "$data/npmrc"
export npm_config_userconfig="$data/npmrc"
manifest='{"name":"cooldown-bench","version":"1.0.0","private":true,"dependencies":{"express":"^4.19.0","axios":"^1.6.0","chalk":"^4.1.2","commander":"^11.0.0","debug":"^4.3.4","lodash":"^4.17.21"}}'

if [ ! -f "$data/built" ]; then
  echo "bench: building the data set through Verdaccio's uplink to registry.npmjs.org (once)"
  rm -rf "$data/storage" "$data/project" && mkdir -p "$data/project"
  echo "$manifest" > "$data/project/package.json"
  start_registry '{npmjs: {url: "https://registry.npmjs.org/", timeout: 60s}}'
  (cd "$data/project" && npm install --ignore-scripts --cache "$data/fill-cache" >/dev/null)
  rm -rf "$data/fill-cache" "$data/project/node_modules" "$data/project/package-lock.json"
  stop_registry
  touch "$data/built"
fi
start_registry '{}'

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$data/last.err" || { cat "$data/last.err" >&2; echo "bench: command failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # $1 = min-age
  printf '[npm]\nregistry = "%s"\n[cooldown]\nmin-age = "%s"\n' "$reg" "$1" > "$data/project/lockgate.toml"
  echo "$manifest" > "$data/project/package.json"
  rm -rf "$data/project/node_modules" "$data/project/package-lock.json"
  (cd "$data/project" && LOCKGATE_SYSTEM_CONFIG= LOCKGATE_CACHE_DIR="$data/store" LOCKGATE_REAL_NPM="$npm_bin" \
    npm_config_cache="$data/npm-cache" "$lockgate" npm install)
}

run 0 >/dev/null 2>&1; run 3d >/dev/null 2>&1   # warm the store and the npm cache
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
echo "lockgate cooldown benchmark — route-mode npm install, $packages packages, median of $rounds rounds, $(nproc) cores"
printf '%-44s %9s %7s\n' "case" "ms" "ratio"
printf '%-44s %9s %7s\n' "[cooldown] min-age = \"0\" (off)" "$off" "1.00"
printf '%-44s %9s %7s\n' "[cooldown] min-age = \"3d\" (default)" "$on" "$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.2f", a / b}')"
echo "versions held back by the 3d cooldown on this data set: $held"
