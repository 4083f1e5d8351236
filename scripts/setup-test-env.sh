#!/usr/bin/env bash
# Installs the real registries and tools that lockgate's integration tests run against:
#   .tools/verdaccio   Verdaccio 5 (npm registry), `npm ci` from tests/tools/verdaccio
#   .tools/npm10       npm 10, for "tests must also pass with an older npm"
#   .tools/pypi-venv   pypiserver 2.4 + passlib (+ jsonschema for the SARIF test), hash-pinned by tests/tools/pypiserver
#   .tools/pypi-public wheels pip needs to build sdists (setuptools, wheel), for the "public" index
#   apt                nginx, and Debian's Maven plugins that fill /usr/share/maven-repo
# Idempotent: each step is skipped when its stamp (a hash of its manifest) is current.
# Prints one line per step with its time. tests/common/ names this script when a tool is missing.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
MANIFESTS="$ROOT/tests/tools"
APT_PACKAGES=(
    nginx
    libmaven-compiler-plugin-java libmaven-resources-plugin-java libmaven-jar-plugin-java
    libsurefire-java libmaven-install-plugin-java libmaven-dependency-plugin-java
    # tests/mvnw.rs: zip builds the Maven distributions; unzip and curl are what ./mvnw (and
    # lockgate mvnw's unpacking) use.
    zip unzip curl
)

die() { echo "setup-test-env: $*" >&2; exit 1; }

# step LABEL FUNCTION: runs FUNCTION (which sets RESULT) and prints "LABEL RESULT SECONDS".
# Any failing command stops the script (set -e), and the ERR trap names the step.
STEP=
trap 'echo "setup-test-env: step ${STEP:-?} failed (see the output above)" >&2' ERR
step() {
    STEP=$1 RESULT=done
    local start=${EPOCHREALTIME/./} us
    "$2"
    us=$((${EPOCHREALTIME/./} - start))
    printf 'setup-test-env: %-12s %-12s %3d.%ds\n' "$1" "$RESULT" $((us / 1000000)) $((us / 100000 % 10))
}

# stamp_ok DIR FILES...: true when DIR/.stamp matches the hash of FILES.
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { local dir=$1; shift; [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$(stamp_of "$@")" ]]; }

# npm_tool NAME: `npm ci` of tests/tools/NAME into .tools/NAME (scripts off: none is needed).
npm_tool() {
    local src="$MANIFESTS/$1" dst="$TOOLS/$1"
    if stamp_ok "$dst" "$src/package.json" "$src/package-lock.json"; then RESULT="up to date"; return; fi
    rm -rf "$dst"
    mkdir -p "$dst"
    cp "$src/package.json" "$src/package-lock.json" "$dst/"
    (cd "$dst" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    stamp_of "$src/package.json" "$src/package-lock.json" >"$dst/.stamp"
    RESULT=installed
}
verdaccio() { npm_tool verdaccio; }
npm10() { npm_tool npm10; }

# The machine's pip, isolated from pip config files and PIP_* variables (this machine sets
# PIP_FIND_LINKS), always hash-checked and wheels only.
pip_isolated() {
    (
        unset "${!PIP_@}"
        PIP_CONFIG_FILE=/dev/null python3 -m pip "$@" --quiet --disable-pip-version-check \
            --require-hashes --only-binary :all:
    )
}

# A venv without a pip of its own (ensurepip is slow): the machine's pip installs into it.
# The venv links to the machine's python, so it is also rebuilt when that one stopped working.
pypiserver() {
    local req="$MANIFESTS/pypiserver/requirements.txt" dst="$TOOLS/pypi-venv"
    if stamp_ok "$dst" "$req" && "$dst/bin/python" -c 'import pypiserver, passlib, waitress, jsonschema' 2>/dev/null; then
        RESULT="up to date"
        return
    fi
    rm -rf "$dst"
    python3 -m venv --without-pip "$dst"
    pip_isolated --python "$dst/bin/python" install -r "$req"
    stamp_of "$req" >"$dst/.stamp"
    RESULT=installed
}

pypi_public() {
    local req="$MANIFESTS/pypi-public/requirements.txt" dst="$TOOLS/pypi-public"
    if stamp_ok "$dst" "$req"; then RESULT="up to date"; return; fi
    rm -rf "$dst"
    pip_isolated download --no-deps --dest "$dst" -r "$req"
    stamp_of "$req" >"$dst/.stamp"
    RESULT=downloaded
}

MADE_POLICY_RC=
cleanup() { if [[ -n $MADE_POLICY_RC ]]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

apt_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then RESULT="up to date"; return; fi
    [[ $(id -u) == 0 ]] ||
        die "Debian packages missing: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    # Keep nginx's package scripts from starting a system nginx: the tests start their own.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        MADE_POLICY_RC=1
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
    fi
    local install=(apt-get install -y -q --no-install-recommends "${missing[@]}")
    # `apt-get update` only when the package lists lack a package or are too old to download from.
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt-get update -q; fi
    if ! "${install[@]}"; then
        apt-get update -q
        "${install[@]}"
    fi
    RESULT="installed ${#missing[@]}"
}

# What the machine itself must provide: this script does not install toolchains.
machine() {
    local missing=() tool
    for tool in node npm python3 java javac mvn openssl; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) || die "not on PATH: ${missing[*]} (this machine kind should provide them)"
    RESULT=ok
}

mkdir -p "$TOOLS"
step machine machine
step verdaccio verdaccio
step npm10 npm10
step pypiserver pypiserver
step pypi-public pypi_public
step apt apt_packages
