#!/usr/bin/env bash
# Writes bench/typosquat/pypi-sample.tsv: a fixed random sample of PyPI's projects (those whose
# normalised name's SHA-256 starts with 00: about 1 in 256 of the ~700,000 names on the simple
# index) with the first-upload time pypi.org gives each (the earliest PEP 700 `upload-time` on its
# PEP 691 page, the clock lockgate reads) and when that was asked. The evaluation
# (bench/typosquat-eval.sh) judges the sampled projects that were young when asked: what the
# age-gated typosquat rules cost legitimate new packages. Needs pypi.org.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - > bench/typosquat/pypi-sample.tsv <<'PY'
import concurrent.futures, datetime, hashlib, json, re, sys, urllib.error, urllib.request

def get(url, accept):
    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "lockgate-typosquat-eval"})
    for attempt in range(3):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            if attempt == 2:
                raise
        except (urllib.error.URLError, TimeoutError):
            if attempt == 2:
                raise

index = get("https://pypi.org/simple/", "text/html").decode()
names = sorted(set(re.findall(r'<a href="([^"/]+)/">', index)))
sample = [n for n in names if hashlib.sha256(n.encode()).hexdigest().startswith("00")]

def one(name):
    asked = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = get("https://pypi.org/simple/%s/" % name, "application/vnd.pypi.simple.v1+json")
    times = [f["upload-time"] for f in json.loads(body or b"{}").get("files", []) if f.get("upload-time")]
    return name, (min(times) if times else "-"), asked

print("# A fixed random sample of PyPI projects (normalised name's SHA-256 starting with 00), out of %d names" % len(names))
print("# name<TAB>first upload (earliest upload-time; - = no files)<TAB>asked at. Written by scripts/sample-young-pypi.sh.")
with concurrent.futures.ThreadPoolExecutor(12) as pool:
    for row in pool.map(one, sample):
        print("\t".join(row))
PY
echo "wrote bench/typosquat/pypi-sample.tsv ($(grep -vc '^#' bench/typosquat/pypi-sample.tsv) projects)"
