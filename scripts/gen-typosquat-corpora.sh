#!/usr/bin/env bash
# Regenerates data/typosquat/{npm,pypi}.txt, the popular-name corpora the typosquat detector embeds.
#
# Source: GuardDog's wheel on PyPI (Apache-2.0), which ships the lists it uses for its own
# typosquatting heuristic. The version and the wheel's sha256 are pinned here and recorded in
# data/typosquat/SOURCE.md; to move to a newer GuardDog, change both pins and that file together.
#
# Output: one name per line, byte-order sorted, no duplicates. npm names are kept as published
# (a few legacy names such as JSONStream have capitals); PyPI names are PEP 503-normalised
# (lowercase, runs of -_. become -), which is the form the detector compares.
set -euo pipefail

GUARDDOG_VERSION=3.2.0
WHEEL_SHA256=e503812dc8cf79b74327b7a85a819d62bfb420e3fa8739a7f2f29a93a372c84d
RESOURCES=guarddog/analyzer/metadata/resources

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/data/typosquat"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --dest "$work" "guarddog==$GUARDDOG_VERSION"
wheel="$work/guarddog-$GUARDDOG_VERSION-py3-none-any.whl"
echo "$WHEEL_SHA256  $wheel" | sha256sum --check --quiet

mkdir -p "$out"
python3 - "$wheel" "$RESOURCES" "$out" <<'PY'
import json, re, sys, zipfile

wheel, resources, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for eco, normalise in (("npm", lambda n: n), ("pypi", lambda n: re.sub(r"[-_.]+", "-", n).lower())):
        names = json.loads(z.read(f"{resources}/top_{eco}_packages.json"))["packages"]
        unique = sorted({normalise(n.strip()) for n in names if n.strip()}, key=lambda n: n.encode())
        with open(f"{out}/{eco}.txt", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(n + "\n" for n in unique)
        print(f"{eco}: {len(names)} entries in the wheel, {len(unique)} distinct names")
PY
