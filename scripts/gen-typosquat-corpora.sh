#!/usr/bin/env bash
# Regenerates the popular-name corpora the typosquat detector embeds (data/typosquat/{npm,pypi}.txt)
# and the held-out name lists the evaluation uses (bench/typosquat/holdout-{npm,pypi}.txt).
#
# Sources, each one package fetched by name with its registry's ordinary client, pinned by version
# and sha256 here and recorded in data/typosquat/SOURCE.md (change pins and that file together):
# - GuardDog's wheel on PyPI (Apache-2.0) ships the lists it uses for its own typosquatting
#   heuristic: top npm packages and the top 15,000 PyPI projects, in rank order;
# - the npm package `npm-high-impact` (MIT) lists the packages npm itself calls high-impact
#   (>= 1M downloads a week or >= 500 dependents), most downloaded first, then by dependents.
# No registry is queried per name.
#
# Output: one name per line, byte-order sorted, no duplicates. npm names are kept as published
# (a few legacy names such as JSONStream have capitals); PyPI names are PEP 503-normalised
# (lowercase, runs of -_. become -), which is the form the detector compares. The holdout files
# are the lowest-ranked names of each list (rank order kept): the evaluation removes them from the
# corpus and checks them, which measures what a legitimate package just outside the list meets.
set -euo pipefail

GUARDDOG_VERSION=3.2.0
GUARDDOG_SHA256=e503812dc8cf79b74327b7a85a819d62bfb420e3fa8739a7f2f29a93a372c84d
NPM_HIGH_IMPACT_VERSION=1.13.0
NPM_HIGH_IMPACT_SHA256=63ed31dacc861ac10c95b47af242a984f210f0170eaea8eaa66ba4a9b8f9d30b
RESOURCES=guarddog/analyzer/metadata/resources
HOLDOUT=2000

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --dest "$work" "guarddog==$GUARDDOG_VERSION"
wheel="$work/guarddog-$GUARDDOG_VERSION-py3-none-any.whl"
echo "$GUARDDOG_SHA256  $wheel" | sha256sum --check --quiet

(cd "$work" && npm pack --silent "npm-high-impact@$NPM_HIGH_IMPACT_VERSION" >/dev/null)
tarball="$work/npm-high-impact-$NPM_HIGH_IMPACT_VERSION.tgz"
echo "$NPM_HIGH_IMPACT_SHA256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work"
# The package is ESM data; node reads it exactly as its users would.
node --input-type=module -e "
  import {npmHighImpact} from '$work/package/index.js'
  console.log(JSON.stringify(npmHighImpact))" >"$work/high-impact.json"

mkdir -p "$root/data/typosquat" "$root/bench/typosquat"
python3 - "$wheel" "$RESOURCES" "$work/high-impact.json" "$root" "$HOLDOUT" <<'PY'
import json, re, sys, zipfile

wheel, resources, high_impact, root, holdout = sys.argv[1:]
holdout = int(holdout)

def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def clean(names, normalise=lambda n: n):
    """Rank order kept, blanks and repeats dropped."""
    seen, out = set(), []
    for n in names:
        n = normalise(n.strip())
        if n and n not in seen:
            seen.add(n)
            out.append(n)
    return out

def write(path, names):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(n + "\n" for n in names)

with zipfile.ZipFile(wheel) as z:
    load = lambda eco: json.loads(z.read(f"{resources}/top_{eco}_packages.json"))["packages"]
    guarddog_npm, guarddog_pypi = load("npm"), load("pypi")
with open(high_impact, encoding="utf-8") as f:
    npm_ranked = clean(json.load(f))

npm = clean(guarddog_npm)
pypi_ranked = clean(guarddog_pypi, pep503)
by_bytes = lambda names: sorted(set(names), key=lambda n: n.encode())
write(f"{root}/data/typosquat/npm.txt", by_bytes(npm + npm_ranked))
write(f"{root}/data/typosquat/pypi.txt", by_bytes(pypi_ranked))

# Held out: the lowest-ranked names that only the ranked list has (a GuardDog name would stay in
# the corpus through GuardDog's list).
in_guarddog = set(npm)
npm_tail = [n for n in npm_ranked if n not in in_guarddog][-holdout:]
write(f"{root}/bench/typosquat/holdout-npm.txt", npm_tail)
write(f"{root}/bench/typosquat/holdout-pypi.txt", pypi_ranked[-holdout:])

print(f"npm: {len(guarddog_npm)} GuardDog entries ({len(npm)} distinct), "
      f"{len(npm_ranked)} npm-high-impact names, {len(set(npm) | set(npm_ranked))} in the corpus")
print(f"pypi: {len(guarddog_pypi)} GuardDog entries, {len(pypi_ranked)} in the corpus")
print(f"holdout: {len(npm_tail)} npm, {holdout} pypi")
PY
