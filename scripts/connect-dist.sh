#!/usr/bin/env bash
# Build a Kafka Connect worker with Debezium's PostgreSQL connector and JDBC
# sink from Maven artifacts, for the interop test (tests/integration/91_debezium_interop.sh)
# and the reference stack of scripts/bench-pipeline.sh (scripts/lib/bench-connect.sh).
#
#   scripts/connect-dist.sh [OUTDIR]      (default OUTDIR: /var/cache/cdc-agent/dist)
#
# Why: the machines reach no site but the package registries, so the Connect
# runtime (org.apache.kafka:connect-runtime and its dependencies) and
# Debezium's plugin archives (io.debezium:debezium-connector-*:tar.gz:plugin,
# the same archives Debezium's releases point to) come from Maven Central with
# mvn, as scripts/kafka-dist.sh assembles the broker.
#
# Output: a directory OUTDIR/connect-<kafka>-dbz-<pg>-jdbc-<jdbc>/ with
#   libs/       the worker's classpath (run: java -cp 'libs/*' org.apache.kafka.connect.cli.ConnectStandalone)
#   plugins/    plugin.path: debezium-connector-postgres/, debezium-connector-jdbc/
#   config/log4j.properties, VERSIONS (what resolved), .complete (written last)
# stdout: only that directory's path (DIR=$(scripts/connect-dist.sh)); progress on stderr.
#
# Env (candidates newest first; the first that resolves wins):
#   CONNECT_VERSIONS        default "4.3.0 4.3.1": Debezium 3.6 is built against
#                           Kafka 4.3.0 (its plugins carry connect-api-4.3.0.jar);
#                           Connect 4.x needs Java 17, talks to 3.9 brokers
#   DEBEZIUM_PG_VERSIONS    default "3.6.1.Final"
#   DEBEZIUM_JDBC_VERSIONS  default "3.6.1.Final 3.6.0.Final": the 3.6.1 JDBC sink
#                           is not served by the registry here, 3.6.0 (same line) is
#   MVN_ARGS                extra mvn arguments, e.g. -Dmaven.repo.local=/tmp/m2
set -euo pipefail

OUTDIR=${1:-/var/cache/cdc-agent/dist}
CONNECT_VERSIONS=${CONNECT_VERSIONS:-"4.3.0 4.3.1"}
DEBEZIUM_PG_VERSIONS=${DEBEZIUM_PG_VERSIONS:-"3.6.1.Final"}
DEBEZIUM_JDBC_VERSIONS=${DEBEZIUM_JDBC_VERSIONS:-"3.6.1.Final 3.6.0.Final"}
# Connect 4.3 logs through slf4j-api 1.7.36: the same binding as our broker.
SLF4J_VERSION=1.7.36
RELOAD4J_VERSION=1.2.25
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
read -r -a mvn_extra <<<"${MVN_ARGS:-}"

log() { printf 'connect-dist: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v java >/dev/null || die "java not found"
jv=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[[ ${jv%%.*} -ge 17 ]] 2>/dev/null || die "Kafka Connect 4 needs Java 17 or newer (found ${jv:-?})"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
exec 9>"$OUTDIR/.connect-dist.lock"
flock 9

# Fast path, no network: a complete build of any candidate combination.
for cv in $CONNECT_VERSIONS; do
    for pv in $DEBEZIUM_PG_VERSIONS; do
        for jv in $DEBEZIUM_JDBC_VERSIONS; do
            d="$OUTDIR/connect-$cv-dbz-$pv-jdbc-$jv"
            if [[ -f $d/.complete ]]; then
                log "cached: $d"
                echo "$d"
                exit 0
            fi
        done
    done
done

# Only a build needs mvn (a cached one above does not).
command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
WORK=$(mktemp -d "$OUTDIR/.connect-dist.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mvn_q() { # log-file args...
    local logf=$1; shift
    (cd "$WORK" && mvn -q -B "${mvn_extra[@]}" "$@") >"$logf" 2>&1
}
# mvn's first error lines, with repository addresses left out.
explain() { # log-file
    sed -e 's/\x1b\[[0-9;]*m//g' -e 's#[a-z]*://[^ ]*#<repository>#g' "$1" |
        grep -m2 -E 'ERROR.*(Could not|Failed|resolve|find)' | cut -c1-300 >&2 ||
        tail -n 5 "$1" | sed 's#[a-z]*://[^ ]*#<repository>#g' >&2
}

write_pom() { # connect version
    cat >"$WORK/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cdc-agent</groupId>
  <artifactId>connect-dist</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$1</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId><version>$1</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-transforms</artifactId><version>$1</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${SLF4J_VERSION}</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>${RELOAD4J_VERSION}</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

connect=""
for cv in $CONNECT_VERSIONS; do
    log "resolving org.apache.kafka:connect-runtime:$cv ..."
    write_pom "$cv"
    rm -rf "$WORK/libs"
    if mvn_q "$WORK/mvn-connect-$cv.log" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$WORK/libs" && [[ -f $WORK/libs/connect-runtime-$cv.jar ]]; then
        connect=$cv
        break
    fi
    log "  $cv did not resolve:"
    explain "$WORK/mvn-connect-$cv.log"
done
[[ -n $connect ]] || die "no Connect runtime of '$CONNECT_VERSIONS' resolved"

# One Debezium plugin archive: the first version of $2 that resolves, unpacked
# into plugins/; prints the version.
plugin() { # artifactId versions
    local a=$1 v
    for v in $2; do
        log "resolving io.debezium:$a:$v (plugin archive) ..."
        if mvn_q "$WORK/mvn-$a-$v.log" "$DEP_PLUGIN:copy" \
                -Dartifact="io.debezium:$a:$v:tar.gz:plugin" -DoutputDirectory="$WORK/dl" &&
            [[ -f $WORK/dl/$a-$v-plugin.tar.gz ]]; then
            mkdir -p "$WORK/plugins"
            tar -xzf "$WORK/dl/$a-$v-plugin.tar.gz" -C "$WORK/plugins" || die "cannot unpack $a-$v-plugin.tar.gz"
            [[ -f $WORK/plugins/$a/$a-$v.jar ]] || die "$a-$v-plugin.tar.gz has no $a/$a-$v.jar"
            echo "$v"
            return 0
        fi
        log "  $v did not resolve:"
        explain "$WORK/mvn-$a-$v.log"
    done
    return 1
}
pg=$(plugin debezium-connector-postgres "$DEBEZIUM_PG_VERSIONS") ||
    die "no debezium-connector-postgres of '$DEBEZIUM_PG_VERSIONS' resolved"
jdbc=$(plugin debezium-connector-jdbc "$DEBEZIUM_JDBC_VERSIONS") ||
    die "no debezium-connector-jdbc of '$DEBEZIUM_JDBC_VERSIONS' resolved"

mkdir -p "$WORK/dist/config"
mv "$WORK/libs" "$WORK/plugins" "$WORK/dist/"
cat >"$WORK/dist/config/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# The plugin scan and client configs are long and say nothing a test needs.
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common.config=WARN
log4j.logger.org.apache.kafka.connect.runtime.isolation=WARN
log4j.logger.org.reflections=ERROR
log4j.logger.org.hibernate=WARN
EOF
printf 'connect-runtime %s\ndebezium-connector-postgres %s\ndebezium-connector-jdbc %s\n' \
    "$connect" "$pg" "$jdbc" >"$WORK/dist/VERSIONS"
touch "$WORK/dist/.complete"

d="$OUTDIR/connect-$connect-dbz-$pg-jdbc-$jdbc"
rm -rf "$d"
mv "$WORK/dist" "$d"
log "built $d ($(du -sh "$d" | cut -f1))"
echo "$d"
