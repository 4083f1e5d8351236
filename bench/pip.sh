#!/usr/bin/env bash
# bench/pip.sh — plain `pip install --require-hashes -r` vs `lockgate pip install -r` on a real
# hash-locked data-science + web stack (60+ wheels) served by a loopback pypiserver, cold and warm,
# in one run; every figure is printed with its ratio against plain pip.
#
# The first run builds the data set once (needs PyPI): `pip download --only-binary :all:` of
# bench/pip-requirements.in for the machine's Python into bench/.data/pip/wheels, and a lock with
# the sha256 of every wheel. After that the pypiserver serves that directory (offline,
# --disable-fallback). Both sides use the same real pip, install into a fresh `--target` dir, and
# start with pip configuration and PIP_* variables neutralised; the runs are interleaved.
#   cold: empty pip cache (plain) / empty verified store and pip cache (lockgate)
#   warm: pip cache filled by the cold run (plain) / verified store filled by the cold run
# Wall-clock and CPU time (user+sys of the process tree, less sensitive to other load on a shared
# machine) are both reported, and lockgate's own share (the real pip replaced by a no-op).
#
# Usage: bench/pip.sh [ROUNDS]   (default 3; medians are reported)
set -euo pipefail

rounds="${1:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/bench/.data/pip"
port=48741
index="http://127.0.0.1:$port/simple/"
pip_bin="${PIP_BIN:-$(python3 -c 'import sys, os; print(os.path.join(os.path.dirname(sys.executable), "pip"))')}"
pypi_server="$root/.tools/pypi-venv/bin/pypi-server"
[ -x "$pypi_server" ] || "$root/scripts/setup-test-env.sh"
(cd "$root" && cargo build --release --quiet)
lockgate="${CARGO_TARGET_DIR:-$root/target}/release/lockgate"
mkdir -p "$data"

# pip as the benchmark runs it: no config files, no PIP_* from the machine.
pip_env=(env $(compgen -e | grep '^PIP_' | sed 's/^/-u /') PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1)

if [ ! -f "$data/requirements.txt" ]; then
  echo "bench: downloading the data set from PyPI (once)"
  rm -rf "$data/wheels"
  "${pip_env[@]}" "$pip_bin" download --quiet --only-binary :all: -d "$data/wheels" -r "$root/bench/pip-requirements.in"
  for w in "$data/wheels"/*.whl; do
    f=$(basename "$w"); IFS=- read -r name version _ <<<"$f"
    printf '%s==%s \\\n    --hash=sha256:%s\n' "$name" "$version" "$(sha256sum "$w" | cut -d' ' -f1)"
  done > "$data/requirements.txt.tmp"
  mv "$data/requirements.txt.tmp" "$data/requirements.txt"
fi
packages=$(grep -c -- '--hash=' "$data/requirements.txt")
megabytes=$(du -sm "$data/wheels" | cut -f1)
printf '[pip]\nindex-url = "%s"\n' "$index" > "$data/lockgate.toml"

"$pypi_server" run --interface 127.0.0.1 --port "$port" --disable-fallback --backend simple-dir \
  --passwords . --authenticate . "$data/wheels" > "$data/pypiserver.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done

# Wall-clock and CPU (user+sys of the whole process tree) milliseconds of one command.
measure() {
  /usr/bin/time -f '%e %U %S' -o "$data/time" "$@" >/dev/null 2>"$data/last.err" \
    || { cat "$data/last.err" >&2; echo "bench: command failed: $*" >&2; exit 1; }
  awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}' "$data/time"
}
median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# The two sides (pip cache dir; lockgate also: store dir, real pip).
plain() { rm -rf "$data/site"; measure "${pip_env[@]}" "$pip_bin" install --quiet --target "$data/site" \
  --cache-dir "$1" --require-hashes --index-url "$index" -r "$data/requirements.txt"; }
guarded() { rm -rf "$data/site"; measure "${pip_env[@]}" LOCKGATE_CONFIG="$data/lockgate.toml" LOCKGATE_SYSTEM_CONFIG= \
  LOCKGATE_CACHE_DIR="$2" LOCKGATE_REAL_PIP="${3:-$pip_bin}" "$lockgate" pip install --quiet --target "$data/site" \
  --cache-dir "$1" -r "$data/requirements.txt"; }
# lockgate's own share: the same run with a "real pip" that only starts Python and exits.
printf '#!%s\n' "$(head -1 "$pip_bin" | cut -c3-)" > "$data/noop-pip"; chmod +x "$data/noop-pip"

declare -A wall cpu
record() { local k=$1 w c; shift; read -r w c < <("$@"); wall[$k]+=" $w"; cpu[$k]+=" $c"; }
for r in $(seq "$rounds"); do
  rm -rf "$data/cache" "$data/lg-cache" "$data/store" "$data/noop-store"
  # Interleaved so that load from other processes hits both sides alike, and in alternating order
  # (ABBA) so that the position in a round (page cache, writeback of the previous install) cancels.
  if [ $((r % 2)) = 1 ]; then
    record plain_cold plain "$data/cache"
    record lg_cold guarded "$data/lg-cache" "$data/store"
    record plain_warm plain "$data/cache"
    record lg_warm guarded "$data/lg-cache" "$data/store"
  else
    record lg_cold guarded "$data/lg-cache" "$data/store"
    record plain_cold plain "$data/cache"
    record lg_warm guarded "$data/lg-cache" "$data/store"
    record plain_warm plain "$data/cache"
  fi
  record own_cold guarded "$data/lg-cache" "$data/noop-store" "$data/noop-pip"
  record own_warm guarded "$data/lg-cache" "$data/noop-store" "$data/noop-pip"
  echo "bench: round $r/$rounds done" >&2
done
declare -A m c
for k in "${!wall[@]}"; do m[$k]=$(echo "${wall[$k]}" | median); c[$k]=$(echo "${cpu[$k]}" | median); done
rm -rf "$data/site"

echo
echo "lockgate pip benchmark — $packages wheels ($megabytes MB), $("$pip_bin" --version | cut -d' ' -f1-2), median of $rounds round(s), $(nproc) cores"
row() { printf '%-56s %8s %6s %8s %6s\n' "$@"; }
row "case" "wall ms" "ratio" "CPU ms" "ratio"
row "plain pip install --require-hashes, empty pip cache" "${m[plain_cold]}" "1.00" "${c[plain_cold]}" "1.00"
row "lockgate pip install, empty store and pip cache" "${m[lg_cold]}" "$(ratio "${m[lg_cold]}" "${m[plain_cold]}")" \
  "${c[lg_cold]}" "$(ratio "${c[lg_cold]}" "${c[plain_cold]}")"
row "plain pip install --require-hashes, warm pip cache" "${m[plain_warm]}" "1.00" "${c[plain_warm]}" "1.00"
row "lockgate pip install, warm store" "${m[lg_warm]}" "$(ratio "${m[lg_warm]}" "${m[plain_warm]}")" \
  "${c[lg_warm]}" "$(ratio "${c[lg_warm]}" "${c[plain_warm]}")"
echo
printf "lockgate's own share (real pip replaced by a no-op Python): cold %s ms (%s ms CPU), warm %s ms (%s ms CPU)\n" \
  "${m[own_cold]}" "${c[own_cold]}" "${m[own_warm]}" "${c[own_warm]}"
