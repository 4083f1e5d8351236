#!/usr/bin/env bash
# bench/feed.sh — the malicious-package feed at full scale: index build time and size, the cost
# of checking 1,000 locked entries against it, and pass-through with and without an index.
#
# The public OSV bucket is not reachable from the test machines, so the archives are generated
# in OSV's layout (`npm/all.zip`, `PyPI/all.zip`, `Maven/all.zip`) from the shapes of real
# `ossf/malicious-packages` records (a `versions` list as in MAL-2025-46974, an `ECOSYSTEM`
# range from "0" as in MAL-2025-2552, OSV's `details`/`database_specific`/`credits` fields, and
# about one non-MAL advisory per ten records, which the index must skip). Counts default to the
# order of the real MAL sets; pass others to match a newer feed:
#
# Usage: bench/feed.sh [NPM_RECORDS] [PYPI_RECORDS] [MAVEN_RECORDS] [ROUNDS]
#        (defaults 200000 15000 10 15)
#
#   build:   `lockgate feed update --url file://…` (read + verify every record, write the index)
#   lookup:  `lockgate feed query npm` with the 1,000 entries of a package-lock.json (10 listed),
#            which reports the index read and the lookups in process; and `lockgate check` on that
#            lockfile with the index vs with no index (whole-process difference, noisier)
#   pass-through: `lockgate npm --version` with the real npm replaced by /bin/true, with a full
#            index in the cache vs an empty cache (pass-through must never read it)
set -euo pipefail

npm_n="${1:-200000}"; pypi_n="${2:-15000}"; maven_n="${3:-10}"; rounds="${4:-15}"
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/bench/.data/feed"
(cd "$root" && cargo build --release --quiet)
lockgate="${CARGO_TARGET_DIR:-$root/target}/release/lockgate"
mkdir -p "$data"
osv="$data/osv-$npm_n-$pypi_n-$maven_n"

if [ ! -f "$osv/Maven/all.zip" ]; then
  echo "bench: generating OSV archives ($npm_n npm, $pypi_n PyPI, $maven_n Maven MAL records)"
  python3 - "$osv" "$npm_n" "$pypi_n" "$maven_n" <<'EOF'
import json, os, random, sys, zipfile
out, counts = sys.argv[1], dict(zip(["npm", "PyPI", "Maven"], map(int, sys.argv[2:5])))
random.seed(11)
details = ("\n---\n_-= Per source details. Do not edit below this line.=-_\n\n## Source: ossf-package-analysis "
           "(31a6d6dfa04c535e46772595b023ab74c93ae10161286c61741daa3238a1ccc1)\nThe OpenSSF Package Analysis "
           "project identified '{n}' @ {v} ({e}) as malicious.\n\nIt is considered malicious because:\n\n"
           "- The package communicates with a domain associated with malicious activity.\n")
words = ["react", "vue", "lodash", "axios", "chalk", "web3", "eth", "solana", "discord", "token", "utils",
         "sdk", "api", "core", "config", "logger", "crypto", "wallet", "bot", "helper", "plugin", "cli"]
def name_of(eco, i):
    base = f"{words[i % 22]}-{words[(i * 7 + 3) % 22]}-{i}"
    return f"io.github.{base.replace('-', '')}:{base}" if eco == "Maven" else base
for eco, n in counts.items():
    os.makedirs(f"{out}/{eco}", exist_ok=True)
    with zipfile.ZipFile(f"{out}/{eco}/all.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            name = name_of(eco, i)
            v = f"{random.randint(0, 9)}.{random.randint(0, 20)}.{random.randint(0, 9)}"
            aff = {"package": {"ecosystem": eco, "name": name}}
            if i < 10 or random.random() < 0.25:  # the first ten: every version (the project pins them)
                aff["ranges"] = [{"type": "ECOSYSTEM" if eco != "npm" else "SEMVER", "events": [{"introduced": "0"}]}]
            else:
                aff["versions"] = [v] + ([f"{v}-1"] if random.random() < 0.1 else [])
            rec = {"modified": "2025-09-12T01:13:34Z", "published": "2025-09-08T14:26:51Z", "schema_version": "1.5.0",
                   "id": f"MAL-2025-{i + 1}", "summary": f"Malicious code in {name} ({eco})",
                   "details": details.format(n=name, v=v, e=eco), "affected": [aff],
                   "credits": [{"name": "OpenSSF: Package Analysis", "type": "FINDER",
                                "contact": ["https://github.com/ossf/package-analysis"]}],
                   "database_specific": {"malicious-packages-origins": [{"source": "ossf-package-analysis",
                                         "sha256": "31a6d6dfa04c535e46772595b023ab74c93ae10161286c61741daa3238a1ccc1",
                                         "import_time": "2025-09-12T01:20:00Z", "versions": [v]}]}}
            z.writestr(f"MAL-2025-{i + 1}.json", json.dumps(rec, indent=2))
            if i % 10 == 0:
                z.writestr(f"GHSA-{i:04d}-xxxx-yyyy.json", json.dumps({"id": f"GHSA-{i:04d}-xxxx-yyyy", "summary": "an advisory",
                           "affected": [{"package": {"ecosystem": eco, "name": name}, "versions": [v]}]}))
# A 1,000-entry npm project: 990 clean names and 10 listed ones.
listed = [name_of("npm", i) for i in range(10)]
proj = f"{out}/project"
os.makedirs(proj, exist_ok=True)
pkgs = {"": {"name": "app", "version": "1.0.0", "dependencies": {}}}
for i in range(1000):
    name, ver = (f"clean-package-{i}", "1.0.0") if i >= 10 else (listed[i], "1.0.0")
    pkgs[""]["dependencies"][name] = ver
    pkgs[f"node_modules/{name}"] = {"version": ver, "resolved": f"https://registry.npmjs.org/{name}/-/{name}-{ver}.tgz",
                                    "integrity": "sha512-" + "A" * 86 + "=="}
json.dump({"name": "app", "version": "1.0.0", "dependencies": pkgs[""]["dependencies"]}, open(f"{proj}/package.json", "w"))
json.dump({"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": pkgs},
          open(f"{proj}/package-lock.json", "w"), indent=2)
EOF
fi

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
export LOCKGATE_SYSTEM_CONFIG= LOCKGATE_METRICS_FILE= LOCKGATE_AUDIT_LOG=
full="$data/cache-full"; empty="$data/cache-empty"
rm -rf "$full" "$empty"; mkdir -p "$full" "$empty"

zips=$(du -cb "$osv"/*/all.zip | tail -1 | cut -f1)
start=$(date +%s%N)
LOCKGATE_CACHE_DIR="$full" "$lockgate" feed update --url "file://$osv/" 2>"$data/update.err"
build_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$data/update.err"
idx="$full/feed/osv.idx"
LOCKGATE_CACHE_DIR="$full" "$lockgate" feed status

cd "$osv/project"
code=0; LOCKGATE_CACHE_DIR="$full" "$lockgate" check >/dev/null 2>&1 || code=$?
[ "$code" = 29 ] || { echo "bench: expected check to find the 10 listed entries (29), got $code" >&2; exit 1; }
with=(); without=()
for _ in $(seq "$rounds"); do
  with+=("$(LOCKGATE_CACHE_DIR="$full" ms "$lockgate" check)")
  without+=("$(LOCKGATE_CACHE_DIR="$empty" ms "$lockgate" check)")
done
w=$(printf '%s\n' "${with[@]}" | median); wo=$(printf '%s\n' "${without[@]}" | median)

# In-process: `feed query` with the same 1,000 entries reports the index read and the lookups.
mapfile -t entries < <(python3 -c 'import json; d = json.load(open("package-lock.json"))["packages"]
for k, v in d.items():
    if k: print(k[len("node_modules/"):] + "@" + v["version"])')
reads=(); looks=()
for _ in $(seq "$rounds"); do
  line=$( { LOCKGATE_CACHE_DIR="$full" "$lockgate" feed query npm "${entries[@]}" 2>&1 >/dev/null || true; } | tail -1)
  reads+=("$(sed -E 's/.*read in ([0-9]+) µs.*/\1/' <<<"$line")")
  looks+=("$(sed -E 's/.*lookups in ([0-9]+) µs.*/\1/' <<<"$line")")
done
echo "last query: $line"
r=$(printf '%s\n' "${reads[@]}" | median); l=$(printf '%s\n' "${looks[@]}" | median)

pt_with=(); pt_without=()
for _ in $(seq $(( rounds * 4 ))); do
  pt_with+=("$(LOCKGATE_CACHE_DIR="$full" LOCKGATE_REAL_NPM=/bin/true ms "$lockgate" npm --version)")
  pt_without+=("$(LOCKGATE_CACHE_DIR="$empty" LOCKGATE_REAL_NPM=/bin/true ms "$lockgate" npm --version)")
done
pw=$(printf '%s\n' "${pt_with[@]}" | median); pwo=$(printf '%s\n' "${pt_without[@]}" | median)

echo
echo "records: npm $npm_n, PyPI $pypi_n, Maven $maven_n (archives $(( zips / 1048576 )) MiB)"
echo "index build (feed update from file://): ${build_ms} ms; index size $(( $(stat -c %s "$idx") / 1024 )) KiB"
echo "lockgate check, 1,000 npm entries: with index ${w} µs, without ${wo} µs → index load + 1,000 lookups ≈ $(( w - wo )) µs (median of $rounds)"
echo "feed query, 1,000 npm entries (in process): index read ${r} µs + 1,000 lookups ${l} µs = $(( r + l )) µs (median of $rounds)"
echo "pass-through npm --version (real npm = /bin/true): with index ${pw} µs, without ${pwo} µs (median of $(( rounds * 4 )))"
