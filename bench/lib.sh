# bench/lib.sh — sourced by the npm benchmarks: a loopback Verdaccio over a storage directory, and
# the timing helpers every bench prints with. Callers set `root` (the repository), `data` (work
# directory) and `port`; sourcing sets `reg`, `npm_bin`, `verdaccio`, `lockgate` (a release build)
# and points npm's user config at a bench npmrc for that registry.

reg="http://127.0.0.1:$port/"
npm_bin="$(command -v npm)"
verdaccio="${VERDACCIO:-$root/.tools/verdaccio/node_modules/.bin/verdaccio}"
[ -x "$verdaccio" ] || "$root/scripts/setup-test-env.sh"
(cd "$root" && cargo build --release --quiet)
lockgate="$root/target/release/lockgate"
mkdir -p "$data"
printf 'registry=%s\nfund=false\naudit=false\nupdate-notifier=false\n' "$reg" > "$data/npmrc"
export npm_config_userconfig="$data/npmrc"

pid=""
stop_registry() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop_registry EXIT

# start_registry UPLINKS [STORAGE]: UPLINKS is a YAML map ('{}' = offline); STORAGE defaults to
# $data/storage. With an uplink named npmjs every package is proxied to it.
start_registry() {
  cat > "$data/config.yaml" <<YAML
storage: ${2:-$data/storage}
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

# ms CMD...: runs CMD (stdout dropped, stderr kept in $data/last.err) and prints its wall time in ms.
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$data/last.err" || { cat "$data/last.err" >&2; echo "bench: command failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
