#!/usr/bin/env bash
# Build an Apache-layout Kafka distribution tarball from Maven artifacts.
#
#   scripts/kafka-dist.sh [OUTDIR]        (default OUTDIR: /var/cache/cdc-agent/dist)
#
# Why: Debian ships no Kafka broker and the machines have no internet except
# package registries, so we assemble kafka_2.13-<version>.tgz (libs/ + config/)
# from Maven Central jars. The agent installs it from a file:// or loopback
# http:// URL with its SHA-512, exactly like the Apache release.
#
# Output: OUTDIR/kafka_2.13-<v>.tgz, OUTDIR/kafka_2.13-<v>.tgz.sha512 (sha512sum
# format, relative name), OUTDIR/kafka-dist.version (the version that resolved).
# stdout: only the tarball path (so callers can do DIST=$(scripts/kafka-dist.sh));
# progress goes to stderr.
#
# Differences from the Apache release: no bin/ scripts (run java -cp 'libs/*'
# kafka.Kafka / QuorumPeerMain / kafka.tools.StorageTool directly), and no
# kafka-tools module (kafka-topics, console consumer, perf tools): use kcat.
#
# Env:
#   KAFKA_VERSIONS  candidates, newest first (default "3.9.2 3.9.1 3.9.0"; 3.9 is
#                   the last line with ZooKeeper mode, the first that resolves wins)
#   MVN_ARGS        extra mvn arguments, e.g. -Dmaven.repo.local=/tmp/m2
set -euo pipefail

OUTDIR=${1:-/var/cache/cdc-agent/dist}
KAFKA_VERSIONS=${KAFKA_VERSIONS:-"3.9.2 3.9.1 3.9.0"}
SCALA=2.13
# Kafka 3.9 is built against slf4j-api 1.7.36; the binding must match that line.
SLF4J_VERSION=1.7.36
# slf4j-reload4j 1.7.36 would pull reload4j 1.2.19; the Apache 3.9 release ships 1.2.25.
RELOAD4J_VERSION=1.2.25
DEP_PLUGIN_VERSION=3.6.1
read -r -a mvn_extra <<<"${MVN_ARGS:-}"

log() { printf 'kafka-dist: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
command -v java >/dev/null || die "java not found"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# Parallel test scripts may call us at the same time: serialize on a lock.
exec 9>"$OUTDIR/.kafka-dist.lock"
flock 9

# A tarball is usable iff its .sha512 file exists and verifies.
cached_ok() {
    local name=$1
    [[ -f "$OUTDIR/$name" && -f "$OUTDIR/$name.sha512" ]] || return 1
    (cd "$OUTDIR" && sha512sum --status -c "$name.sha512")
}

# Fast path, no network: any candidate already built (newest first) wins.
for v in $KAFKA_VERSIONS; do
    name="kafka_${SCALA}-${v}.tgz"
    if cached_ok "$name"; then
        log "cached: $OUTDIR/$name (sha512 ok)"
        echo "$v" >"$OUTDIR/kafka-dist.version"
        echo "$OUTDIR/$name"
        exit 0
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafka-dist.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

write_pom() {  # $1=kafka version
    cat >"$WORK/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cdc-agent</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA}</artifactId>
      <version>$1</version>
    </dependency>
    <!-- slf4j binding so broker and ZooKeeper actually log (Kafka only depends on slf4j-api) -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>${RELOAD4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <!-- pinned so Maven needs no plugin-prefix/metadata lookup -->
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${DEP_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

version=""
for v in $KAFKA_VERSIONS; do
    log "resolving org.apache.kafka:kafka_${SCALA}:$v ..."
    write_pom "$v"
    rm -rf "$WORK/libs"
    if (cd "$WORK" && mvn -q -B "${mvn_extra[@]}" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$WORK/libs") >"$WORK/mvn-$v.log" 2>&1 \
       && compgen -G "$WORK/libs/kafka_${SCALA}-$v.jar" >/dev/null; then
        version=$v
        break
    fi
    log "  $v did not resolve:"
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/mvn-$v.log" | grep -m2 -E 'ERROR.*(Could not|Failed|resolve)' \
        | cut -c1-300 >&2 || tail -n 5 "$WORK/mvn-$v.log" >&2
done
[[ -n $version ]] || die "no candidate of '$KAFKA_VERSIONS' resolved (see mvn output above)"
jars=("$WORK"/libs/*.jar)
log "resolved Kafka $version (${#jars[@]} jars)"

# Sanity: the things our tests run must be on the classpath.
for j in "zookeeper-[0-9]*.jar" "slf4j-reload4j-*.jar" "reload4j-$RELOAD4J_VERSION.jar" "kafka-clients-$version.jar"; do
    compgen -G "$WORK/libs/$j" >/dev/null || die "expected jar $j missing from libs/"
done

top="kafka_${SCALA}-${version}"
D="$WORK/$top"
mkdir -p "$D/config/kraft"
mv "$WORK/libs" "$D/libs"

# Minimal log4j config: everything to stdout; the launcher redirects it to a file.
cat >"$D/config/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Quieter defaults, as in the Apache distribution.
log4j.logger.org.apache.zookeeper=INFO
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=INFO
log4j.logger.kafka.authorizer.logger=INFO
EOF

# Sample configs (tests generate their own; these document a working single node).
cat >"$D/config/zookeeper.properties" <<'EOF'
dataDir=/tmp/zookeeper
clientPort=2181
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
EOF

cat >"$D/config/server.properties" <<'EOF'
# Single broker in ZooKeeper mode.
broker.id=0
listeners=PLAINTEXT://127.0.0.1:9092
advertised.listeners=PLAINTEXT://127.0.0.1:9092
log.dirs=/tmp/kafka-logs
zookeeper.connect=127.0.0.1:2181
zookeeper.connection.timeout.ms=18000
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

cat >"$D/config/kraft/server.properties" <<'EOF'
# Single combined broker+controller in KRaft mode; format log.dirs first:
#   java -cp 'libs/*' kafka.tools.StorageTool format -t <uuid> -c config/kraft/server.properties
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://127.0.0.1:9092
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

echo "$version" >"$D/VERSION"

# Deterministic tar (sorted, fixed owner/mtime, gzip -n): same jars => same sha512.
name="$top.tgz"
tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime='2000-01-01 00:00:00Z' -cf - "$top" | gzip -n -6 >"$WORK/$name"
(cd "$WORK" && sha512sum "$name" >"$name.sha512")

# Publish atomically: tarball first, then the checksum that marks it complete.
mv -f "$WORK/$name" "$OUTDIR/$name"
mv -f "$WORK/$name.sha512" "$OUTDIR/$name.sha512"
echo "$version" >"$OUTDIR/kafka-dist.version"
log "built $OUTDIR/$name ($(du -h "$OUTDIR/$name" | cut -f1))"
echo "$OUTDIR/$name"
