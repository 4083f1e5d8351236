#!/usr/bin/env bash
# Guarded vs plain Maven builds (issue 5's benchmark), in one run:
#   plain    mvn -o package, warm local repository (what a developer's machine does today)
#   guarded  lockgate mvn package, warm verified store (lock verified, repository laid out, gate up)
# on the test project (one internal dependency plus the Debian-pinned plugins) and on a larger one
# (ten public libraries and a unit test, so surefire resolves its provider), each with well over
# 100 locked files. Also times `lockgate lock mvn package` (empty repository, everything resolved
# through the gate), and lockgate's own share of a guarded run (the same run with `true` as the
# real mvn: policy, lock, store check, repository layout, gate, settings, cleanup). Prints the
# median of BENCH_RUNS runs (default 5, alternating plain/guarded) and the ratio; the target is
# guarded <= 1.05x plain. The `small-mvnw` row is the small project built through the Maven
# wrapper: plain = the wrapper's unpacked Maven run directly (what ./mvnw execs once its
# distribution is unpacked), guarded = `lockgate mvnw package` (distribution re-verified, then the
# guarded build); its lock is written by `lockgate lock mvnw`. BENCH_PROJECTS picks rows (default
# "small large small-mvnw").
#
# Needs what the integration tests need (scripts/setup-test-env.sh): nginx, mvn 3.8, javac, and
# Debian's Maven plugins in /usr/share/maven-repo. LOCKGATE names the binary; by default the
# release build is made (cargo build --release, honouring CARGO_TARGET_DIR).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
REPO=/usr/share/maven-repo
for tool in nginx mvn javac jar openssl python3 zip sha256sum; do
    command -v "$tool" >/dev/null || { echo "bench/maven.sh: $tool is missing (see scripts/setup-test-env.sh)" >&2; exit 1; }
done
[[ -d $REPO/org/apache/maven/plugins/maven-surefire-plugin/2.22.3 ]] ||
    { echo "bench/maven.sh: Debian's Maven plugins are missing (see scripts/setup-test-env.sh)" >&2; exit 1; }
if [[ -z ${LOCKGATE:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet)
    LOCKGATE=${CARGO_TARGET_DIR:-$ROOT/target}/release/lockgate
fi

WORK=$(mktemp -d)
NGINX_PID=
cleanup() {
    [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PUBLIC_PORT=$(free_port)
INTERNAL_PORT=$(free_port)
PUBLIC=http://127.0.0.1:$PUBLIC_PORT/
INTERNAL=http://127.0.0.1:$INTERNAL_PORT/
mkdir -p "$WORK"/{internal,nginx/tmp,home,store}
printf 'deployer:%s\n' "$(openssl passwd -apr1 internal-maven-pass)" >"$WORK/nginx/htpasswd"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx/tmp/body; proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fcgi; uwsgi_temp_path $WORK/nginx/tmp/uwsgi; scgi_temp_path $WORK/nginx/tmp/scgi;
  server { listen 127.0.0.1:$PUBLIC_PORT; location / { root $WORK/public-extra; try_files \$uri @repo; } location @repo { root $REPO; } }
  server { listen 127.0.0.1:$INTERNAL_PORT; root $WORK/internal;
           auth_basic internal; auth_basic_user_file $WORK/nginx/htpasswd; }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$INTERNAL_PORT)).close()" 2>/dev/null && break
    sleep 0.1
done

# The internal artifact: com.myorg:payments-client:1.2.3 (jar, POM, .sha1, metadata).
art=$WORK/internal/com/myorg/payments-client
mkdir -p "$art/1.2.3" "$WORK/src/com/myorg/payments_client"
echo 'package com.myorg.payments_client; public final class Api { public static String origin() { return "internal"; } }' \
    >"$WORK/src/com/myorg/payments_client/Api.java"
javac --release 17 -d "$WORK/classes" "$WORK/src/com/myorg/payments_client/Api.java"
jar cf "$art/1.2.3/payments-client-1.2.3.jar" -C "$WORK/classes" .
cat >"$art/1.2.3/payments-client-1.2.3.pom" <<'EOF'
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.myorg</groupId><artifactId>payments-client</artifactId><version>1.2.3</version></project>
EOF
for f in "$art"/1.2.3/*; do sha1sum "$f" | cut -d' ' -f1 >"$f.sha1"; done

PLUGINS="maven-compiler-plugin:3.10.1 maven-resources-plugin:3.3.0 maven-jar-plugin:3.3.0 maven-surefire-plugin:2.22.3 maven-install-plugin:3.1.0"
# project DIR DEP... (DEP = groupId:artifactId:version[:scope])
project() {
    local dir=$1; shift
    mkdir -p "$dir/src/main/java/com/example" "$dir/src/test/java/com/example"
    {
        echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        echo '<groupId>com.example</groupId><artifactId>app</artifactId><version>1.0.0</version>'
        echo '<properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>'
        echo '<dependencies>'
        for d in "$@"; do
            IFS=: read -r g a v s <<<"$d"
            echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version><scope>${s:-compile}</scope></dependency>"
        done
        echo '</dependencies><build><plugins>'
        for p in $PLUGINS; do
            echo "<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${p%%:*}</artifactId><version>${p##*:}</version></plugin>"
        done
        echo '</plugins></build></project>'
    } >"$dir/pom.xml"
    echo 'package com.example; public final class App { public static void main(String[] a) { System.out.println(com.myorg.payments_client.Api.origin()); } }' \
        >"$dir/src/main/java/com/example/App.java"
    cat >"$dir/lockgate.toml" <<EOF
[maven]
repository = "$PUBLIC"
[maven.internal]
url = "$INTERNAL"
groups = ["com.myorg"]
username = "deployer"
password-env = "INTERNAL_MAVEN_PASSWORD"
EOF
}
project "$WORK/small" com.myorg:payments-client:1.2.3
project "$WORK/large" com.myorg:payments-client:1.2.3 \
    com.google.guava:guava:31.1-jre org.apache.commons:commons-lang3:3.12.0 org.apache.commons:commons-text:1.10.0 \
    org.apache.commons:commons-compress:1.22 org.apache.commons:commons-collections4:4.2 commons-io:commons-io:2.11.0 \
    commons-codec:commons-codec:1.15 org.slf4j:slf4j-api:1.7.32 org.ow2.asm:asm:9.4 junit:junit:4.13.2:test
echo 'package com.example; public class AppTest { @org.junit.Test public void origin() { org.junit.Assert.assertEquals("internal", com.myorg.payments_client.Api.origin()); } }' \
    >"$WORK/large/src/test/java/com/example/AppTest.java"

# The Maven wrapper row: a distribution zipped from /usr/share/maven (as tests/mvnw.rs does),
# served by the public repository; the small project gets wrapper properties naming it.
# Plain = what ./mvnw does once its distribution is unpacked: exec that Maven's bin/mvn.
DIST=org/apache/maven/apache-maven/3.8.7/apache-maven-3.8.7-bin.zip
mkdir -p "$WORK/dist" "$WORK/public-extra/${DIST%/*}"
cp -rL /usr/share/maven "$WORK/dist/apache-maven-3.8.7" && rm -rf "$WORK/dist/apache-maven-3.8.7/man"
(cd "$WORK/dist" && zip -qr "$WORK/public-extra/$DIST" apache-maven-3.8.7)
WRAPPED_MVN=$WORK/dist/apache-maven-3.8.7/bin/mvn

# Plain Maven: the public repository as `central`, the internal one after it, with credentials.
cat >"$WORK/plain-settings.xml" <<EOF
<settings><servers><server><id>internal</id><username>deployer</username><password>internal-maven-pass</password></server></servers>
<profiles><profile><id>repos</id>
<repositories><repository><id>central</id><url>$PUBLIC</url></repository><repository><id>internal</id><url>$INTERNAL</url></repository></repositories>
<pluginRepositories><pluginRepository><id>central</id><url>$PUBLIC</url></pluginRepository></pluginRepositories>
</profile></profiles><activeProfiles><activeProfile>repos</activeProfile></activeProfiles></settings>
EOF

export MAVEN_OPTS="-Duser.home=$WORK/home" LOCKGATE_CACHE_DIR=$WORK/store LOCKGATE_SYSTEM_CONFIG=
export INTERNAL_MAVEN_PASSWORD=internal-maven-pass
unset LOCKGATE_METRICS_FILE LOCKGATE_AUDIT_LOG LOCKGATE_CONFIG

now() { echo "${EPOCHREALTIME/./}"; }
# timed DIR CMD...: runs CMD in DIR after removing target/, prints microseconds; fails loudly.
timed() {
    local dir=$1; shift
    rm -rf "$dir/target"
    local start; start=$(now)
    if ! (cd "$dir" && "$@" >"$WORK/last.log" 2>&1); then
        echo "bench/maven.sh: failed in $dir: $*" >&2
        tail -30 "$WORK/last.log" >&2
        exit 1
    fi
    echo $(($(now) - start))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { awk -v us="$1" -v digits="${2:-2}" 'BEGIN {printf "%.*f", digits, us / 1e6}'; }

printf '%-10s %6s %9s %10s %12s %8s %13s\n' project files "lock (s)" "plain (s)" "guarded (s)" ratio "lockgate (s)"
mkdir -p "$WORK/small-mvnw/.mvn/wrapper"
cp -r "$WORK/small/." "$WORK/small-mvnw/"
printf 'distributionUrl=%s%s\ndistributionSha256Sum=%s\n' "$PUBLIC" "$DIST" \
    "$(sha256sum "$WORK/public-extra/$DIST" | cut -d' ' -f1)" >"$WORK/small-mvnw/.mvn/wrapper/maven-wrapper.properties"
for name in ${BENCH_PROJECTS:-small large small-mvnw}; do
    dir=$WORK/$name
    real=mvn sub=mvn
    [[ $name == *-mvnw ]] && real=$WRAPPED_MVN sub=mvnw
    lock_us=$(timed "$dir" "$LOCKGATE" lock "$sub" -B -q package)
    files=$(wc -l <"$dir/.mvn/checksums/checksums.sha256")
    plain=("$real" -B -q -o -s "$WORK/plain-settings.xml" "-Dmaven.repo.local=$WORK/plain-repo-$name" package)
    guarded=("$LOCKGATE" "$sub" -B -q package)
    # Warm both: the plain repository gets filled online once, the store already is.
    timed "$dir" "$real" -B -q -s "$WORK/plain-settings.xml" "-Dmaven.repo.local=$WORK/plain-repo-$name" package >/dev/null
    timed "$dir" "${guarded[@]}" >/dev/null
    p=() g=() o=()
    for _ in $(seq "$RUNS"); do
        p+=("$(timed "$dir" "${plain[@]}")")
        g+=("$(timed "$dir" "${guarded[@]}")")
        # (The wrapper's Maven is not LOCKGATE_REAL_MVN: no share measured for that row.)
        [[ $sub == mvn ]] && o+=("$(export LOCKGATE_REAL_MVN=/bin/true; timed "$dir" "${guarded[@]}")")
    done
    pm=$(median "${p[@]}") gm=$(median "${g[@]}") om=$(median "${o[@]:-0}")
    printf '%-10s %6d %9s %10s %12s %7sx %13s\n' "$name" "$files" "$(secs "$lock_us")" "$(secs "$pm")" "$(secs "$gm")" \
        "$(awk -v g="$gm" -v p="$pm" 'BEGIN {printf "%.3f", g / p}')" "$(secs "$om" 3)"
done
echo "median of $RUNS runs each; lockgate: $LOCKGATE"
