"""First-publish times from the public registries, for the typosquat evaluation (issue 10).

The clock is the one lockgate reads: npm's full packument `time.created`, PyPI's earliest
PEP 700 `upload-time` on the PEP 691 simple page. Two modes, each writing TSV on stdout:

  registry-dates.py ages NEEDS_AGE_TSV   every (ecosystem, name) listed: first published, asked at.
      A registry (or mirror) whose dates fail a canary (chalk 0.1.0: 2013; requests 0.2.0: 2011)
      is not trusted: its names are written with `?` (not measured).
  registry-dates.py sample               a fixed random sample of PyPI (names whose SHA-256
      starts with 00, ~1 in 256) with their first upload.

Run through scripts/fetch-typosquat-ages.sh. Needs registry.npmjs.org and pypi.org.
"""
import concurrent.futures, datetime, hashlib, json, re, sys, urllib.error, urllib.parse, urllib.request


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


def npm_doc(name):
    body = get("https://registry.npmjs.org/" + urllib.parse.quote(name, safe="@"), "application/json")
    return json.loads(body or b"{}")


def created(eco, name):
    if eco == "npm":
        return npm_doc(name).get("time", {}).get("created")
    body = get("https://pypi.org/simple/%s/" % name, "application/vnd.pypi.simple.v1+json")
    times = [f["upload-time"] for f in json.loads(body or b"{}").get("files", []) if f.get("upload-time")]
    return min(times) if times else None


def trusted(eco):
    try:
        if eco == "npm":
            return npm_doc("chalk").get("time", {}).get("0.1.0", "").startswith("2013")
        return (created("pypi", "requests") or "").startswith("2011")
    except Exception:
        return False


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ages(path):
    trust = {eco: trusted(eco) for eco in ("npm", "pypi")}
    for eco, ok in trust.items():
        if not ok:
            print("registry-dates: %s registry dates fail the canary; its names are recorded as ? (not measured)" % eco, file=sys.stderr)
    rows = [l.rstrip("\n").split("\t") for l in open(path) if "\t" in l]

    def one(row):
        eco, name = row
        return eco, name, (created(eco, name) or "-") if trust[eco] else "?", now()

    print("# ecosystem<TAB>name<TAB>first published (npm time.created / PyPI earliest upload-time; - = none;")
    print("# ? = not measured: that registry's dates failed the canary check)<TAB>asked at")
    print("# Written by scripts/fetch-typosquat-ages.sh; read by examples/typosquat_eval.rs.")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for r in pool.map(one, rows):
            print("\t".join(r))


def sample():
    index = get("https://pypi.org/simple/", "text/html").decode()
    names = sorted(set(re.findall(r'<a href="([^"/]+)/">', index)))
    picked = [n for n in names if hashlib.sha256(n.encode()).hexdigest().startswith("00")]
    print("# A fixed random sample of PyPI projects (normalised name's SHA-256 starting with 00), out of %d names" % len(names))
    print("# name<TAB>first upload (earliest upload-time; - = no files)<TAB>asked at. Written by scripts/fetch-typosquat-ages.sh --sample.")
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        for row in pool.map(lambda n: (n, created("pypi", n) or "-", now()), picked):
            print("\t".join(row))


if __name__ == "__main__":
    if sys.argv[1:2] == ["ages"]:
        ages(sys.argv[2])
    elif sys.argv[1:2] == ["sample"]:
        sample()
    else:
        sys.exit("usage: registry-dates.py ages NEEDS_AGE_TSV | sample")
