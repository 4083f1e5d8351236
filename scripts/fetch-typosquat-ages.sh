#!/usr/bin/env bash
# Writes bench/typosquat/ages.tsv: for every legitimate name of the typosquat evaluation whose
# verdict a registry age can change (`typosquat_eval needs-age`), when the public registry says it
# was first published — the same clock lockgate reads: npm's full packument `time.created`, PyPI's
# earliest PEP 700 `upload-time` on the PEP 691 simple page — and when that was asked. The
# evaluation (bench/typosquat-eval.sh) then judges each name with that age, offline and
# reproducibly. Needs registry.npmjs.org and pypi.org.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --example typosquat_eval
./target/release/examples/typosquat_eval needs-age | sort -u > bench/typosquat/.needs-age.tsv
python3 - bench/typosquat/.needs-age.tsv > bench/typosquat/ages.tsv <<'PY'
import concurrent.futures, datetime, json, sys, urllib.error, urllib.parse, urllib.request

def get(url, accept):
    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "lockgate-typosquat-eval"})
    for attempt in range(3):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            if attempt == 2:
                raise
        except (urllib.error.URLError, TimeoutError):
            if attempt == 2:
                raise

def created(eco, name):
    if eco == "npm":
        doc = get("https://registry.npmjs.org/" + urllib.parse.quote(name, safe="@"), "application/json")
        return (doc or {}).get("time", {}).get("created")
    doc = get("https://pypi.org/simple/%s/" % name, "application/vnd.pypi.simple.v1+json")
    times = [f["upload-time"] for f in (doc or {}).get("files", []) if f.get("upload-time")]
    return min(times) if times else None

# A registry (or mirror) whose dates are not the real publish times must not decide: canaries
# with known first-publish years (chalk 0.1.0: 2013; requests 0.2.0: 2011).
def trusted(eco):
    try:
        if eco == "npm":
            doc = get("https://registry.npmjs.org/chalk", "application/json") or {}
            t = doc.get("time", {}).get("0.1.0", "")
            return t.startswith("2013")
        return (created("pypi", "requests") or "").startswith("2011")
    except Exception:
        return False
trust = {eco: trusted(eco) for eco in ("npm", "pypi")}
for eco, ok in trust.items():
    if not ok:
        print("fetch-typosquat-ages: %s registry dates fail the canary; its names are recorded as ? (not measured)" % eco, file=sys.stderr)

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if "\t" in l]
def one(row):
    eco, name = row
    asked = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not trust[eco]:
        return eco, name, "?", asked
    return eco, name, created(eco, name) or "-", asked
print("# ecosystem<TAB>name<TAB>first published (npm time.created / PyPI earliest upload-time; - = none;")
print("# ? = not measured: that registry's dates failed the canary check)<TAB>asked at")
print("# Written by scripts/fetch-typosquat-ages.sh; read by examples/typosquat_eval.rs.")
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    for r in pool.map(one, rows):
        print("\t".join(r))
PY
rm -f bench/typosquat/.needs-age.tsv
echo "wrote bench/typosquat/ages.tsv ($(grep -vc '^#' bench/typosquat/ages.tsv) names)"
