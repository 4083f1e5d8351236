#!/usr/bin/env bash
# Build lockgate and install it: DIR/bin/lockgate and DIR/shims/{npm,npx,pip,pip3,mvn}
# (symlinks to the binary, copied from ./shims). Idempotent; --uninstall removes what it installed.
set -euo pipefail

usage() {
  cat <<USAGE
usage: ./install.sh [--prefix DIR] [--binary PATH] [--uninstall]
  --prefix DIR   install into DIR (default: \$HOME/.lockgate)
  --binary PATH  install this lockgate binary instead of building one (e.g. built once for a CI image)
  --uninstall    remove DIR/bin/lockgate and the shims this script installed
USAGE
}

prefix="${HOME:?HOME is not set}/.lockgate"
uninstall=0
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --binary) [ $# -ge 2 ] || { usage >&2; exit 2; }; binary="$2"; shift 2 ;;
    --binary=*) binary="${1#--binary=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
shim_names=()
for s in "$here"/shims/*; do shim_names+=("$(basename "$s")"); done

if [ "$uninstall" = 1 ]; then
  for n in "${shim_names[@]}"; do
    # Only remove links that point at our binary; never a user's own file.
    if [ -L "$prefix/shims/$n" ] && [ "$(readlink "$prefix/shims/$n")" = "../bin/lockgate" ]; then
      rm -f "$prefix/shims/$n"
    fi
  done
  rm -f "$prefix/bin/lockgate"
  rmdir "$prefix/shims" "$prefix/bin" "$prefix" 2>/dev/null || true
  echo "lockgate removed from $prefix; remove $prefix/shims from PATH in your shell profile"
  exit 0
fi

if [ -z "$binary" ]; then
  command -v cargo >/dev/null || { echo "install.sh: cargo is needed to build lockgate (https://rustup.rs)" >&2; exit 1; }
  (cd "$here" && cargo build --release --locked --quiet)
  binary="$here/target/release/lockgate"
fi
[ -x "$binary" ] || { echo "install.sh: $binary is not an executable lockgate binary" >&2; exit 1; }

mkdir -p "$prefix/bin" "$prefix/shims"
# Replace the binary atomically so a running shim never sees a half-written file.
install -m 0755 "$binary" "$prefix/bin/.lockgate.new"
mv -f "$prefix/bin/.lockgate.new" "$prefix/bin/lockgate"
for n in "${shim_names[@]}"; do
  ln -sfn ../bin/lockgate "$prefix/shims/$n"
done

echo "lockgate $("$prefix/bin/lockgate" --version | awk '{print $2}') installed in $prefix"
case ":$PATH:" in
  *":$prefix/shims:"*) echo "$prefix/shims is already on PATH" ;;
  *) echo "add the shims first on PATH (e.g. in ~/.profile or your CI image):"
     echo "  export PATH=\"$prefix/shims:\$PATH\"" ;;
esac
