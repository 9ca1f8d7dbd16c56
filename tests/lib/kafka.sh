# shellcheck shell=bash
# Kafka / ZooKeeper helpers for test scripts.  Source it:  . tests/lib/kafka.sh
#
# A DIR is one unpacked distribution (kafka_unpack) and also holds the state of
# the servers started from it: generated *.properties, data dirs, *.log, *.pid.
# To run several brokers from one unpack, give each its own DIR and point
# KAFKA_HOME at the unpacked distribution.
#
#   kafka_unpack DIST_TGZ DIR
#   zk_start DIR PORT [key=value...]           zk_stop DIR
#   kafka_start_zk DIR PORT ZKPORT [key=value...]
#   kafka_start_kraft DIR PORT CONTROLLERPORT [key=value...]
#   kafka_stop DIR                              free_port
#   kafka_tls_make DIR [SAN...]                 a CA and certificates (below)
#   kafka_start_zk_secured DIR PORT IPORT ZKPORT TLSDIR [key=value...]
#   kafka_scram_user DIR IPORT USER PASSWORD_FILE
#   kafka_acl DIR IPORT ACLCOMMAND-ARGS...
#
# Extra key=value arguments are appended to the generated properties file (last
# one wins in java.util.Properties, so they override our defaults).
#
# Tunables (env): KAFKA_HEAP_OPTS, ZK_HEAP_OPTS, KAFKA_JVM_OPTS, ZK_JVM_OPTS,
# KAFKA_START_TIMEOUT (s, 90), ZK_START_TIMEOUT (s, 30), KAFKA_STOP_TIMEOUT (s, 30),
# KAFKA_HOME. Servers log to DIR/zk.log and DIR/kafka.log.
# Functions return non-zero with a message on stderr; they never exit the caller.

# Small heaps: 2 cores, and tests run in parallel with PostgreSQL.
: "${KAFKA_HEAP_OPTS:=-Xms256m -Xmx512m}"
: "${ZK_HEAP_OPTS:=-Xms32m -Xmx128m}"
: "${KAFKA_START_TIMEOUT:=90}"
: "${ZK_START_TIMEOUT:=30}"
: "${KAFKA_STOP_TIMEOUT:=30}"
# Broker: the GC settings of Apache's kafka-run-class.sh (benchmarks run on it).
: "${KAFKA_JVM_OPTS:=-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35}"
# ZooKeeper and one-shot tools: start fast, use little memory.
: "${ZK_JVM_OPTS:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

_kl_log() { printf 'kafka.sh: %s\n' "$*" >&2; }
_kl_now() { echo "${EPOCHREALTIME/,/.}"; }
_kl_since() { awk -v a="$1" -v b="$(_kl_now)" 'BEGIN{printf "%.1f", b-a}'; }
_kl_home() { echo "${KAFKA_HOME:-$1}"; }

# Print the tail of a log so a failed start explains itself.
_kl_fail() { # msg logfile
    _kl_log "ERROR: $1"
    if [[ -f $2 ]]; then
        _kl_log "---- last 40 lines of $2 ----"
        tail -n 40 "$2" >&2
        _kl_log "---- end of $2 ----"
    fi
    return 1
}

# True if something already accepts connections on 127.0.0.1:PORT.
_kl_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Alive and really ours (guards against pid reuse and zombies).
_kl_alive() { # pid
    [[ -n $1 && -r /proc/$1/stat ]] || return 1
    local stat; stat=$(</proc/"$1"/stat) || return 1
    [[ ${stat##*) } != Z* ]] || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q java
}

# Launch java in the background, stdout+stderr to LOG, pid into PIDFILE.
_kl_launch() { # log pidfile "jvm opts" java-args...
    local log=$1 pidfile=$2 opts_a; read -r -a opts_a <<<"$3"; shift 3
    # exec: $! is the JVM itself, so signals reach it directly.
    (exec java "${opts_a[@]}" -Djava.awt.headless=true "$@" </dev/null >>"$log" 2>&1) &
    local pid=$! i
    echo "$pid" >"$pidfile"
    # Until the subshell has exec'd, its cmdline is bash's and _kl_alive says no.
    for ((i = 0; i < 50; i++)); do
        _kl_alive "$pid" && return 0
        [[ -e /proc/$pid ]] || return 0
        sleep 0.1
    done
}

_kl_stop_pidfile() { # pidfile name
    local pidfile=$1 name=$2 pid i
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    if _kl_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < KAFKA_STOP_TIMEOUT * 10; i++)); do
            _kl_alive "$pid" || break
            sleep 0.1
        done
        if _kl_alive "$pid"; then
            _kl_log "$name (pid $pid) ignored SIGTERM for ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do _kl_alive "$pid" || break; sleep 0.1; done
        fi
    fi
    # Reap it if it is our child, so no zombie stays behind.
    wait "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# A free TCP port on 127.0.0.1 (the kernel picks it; racy only in theory).
free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

kafka_unpack() { # DIST_TGZ DIR
    local tgz=$1 dir=$2
    [[ -f $tgz ]] || { _kl_log "ERROR: no such tarball: $tgz"; return 1; }
    mkdir -p "$dir" || return 1
    # Drop the kafka_2.13-<v>/ top dir so DIR/libs and DIR/config are fixed paths.
    tar -xzf "$tgz" -C "$dir" --strip-components=1 || return 1
    [[ -d $dir/libs ]] || { _kl_log "ERROR: $tgz has no libs/"; return 1; }
}

zk_start() { # DIR PORT [key=value...]
    local dir port=$2 home log pid t0 resp deadline=$((SECONDS + ZK_START_TIMEOUT))
    dir=$(cd "$1" && pwd) || return 1
    shift 2
    home=$(_kl_home "$dir"); log=$dir/zk.log
    [[ -d $home/libs ]] || { _kl_log "ERROR: $home/libs missing (kafka_unpack first)"; return 1; }
    _kl_port_busy "$port" && { _kl_log "ERROR: 127.0.0.1:$port already in use"; return 1; }
    mkdir -p "$dir/zk-data"
    {
        echo "dataDir=$dir/zk-data"
        echo "clientPort=$port"
        echo "clientPortAddress=127.0.0.1"
        echo "tickTime=2000"
        echo "maxClientCnxns=0"
        echo "admin.enableServer=false"          # no Jetty on the classpath, no port 8080
        echo "4lw.commands.whitelist=ruok,srvr"  # readiness probe below
        printf '%s\n' "$@"
    } >"$dir/zookeeper.properties"
    t0=$(_kl_now)
    _kl_launch "$log" "$dir/zk.pid" "$ZK_HEAP_OPTS $ZK_JVM_OPTS" \
        -Dlog4j.configuration="file:$home/config/log4j.properties" \
        -Dzookeeper.jmx.log4j.disable=true \
        -cp "$home/libs/*" org.apache.zookeeper.server.quorum.QuorumPeerMain \
        "$dir/zookeeper.properties"
    pid=$(<"$dir/zk.pid")
    while ((SECONDS < deadline)); do
        _kl_alive "$pid" || { _kl_fail "ZooKeeper exited during startup" "$log"; return 1; }
        resp=$(timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"' && printf ruok >&3 && cat <&3' 2>/dev/null || true)
        if [[ $resp == imok ]]; then
            _kl_log "zookeeper up on 127.0.0.1:$port in $(_kl_since "$t0")s (pid $pid)"
            return 0
        fi
        sleep 0.2
    done
    _kl_fail "ZooKeeper did not answer ruok on 127.0.0.1:$port within ${ZK_START_TIMEOUT}s" "$log"
    _kl_stop_pidfile "$dir/zk.pid" zookeeper
    return 1
}

zk_stop() { _kl_stop_pidfile "$1/zk.pid" zookeeper; }

# Settings shared by both modes: single node, loopback only, fast group joins.
_kl_common_props() { # dir port
    cat <<EOF
advertised.listeners=PLAINTEXT://127.0.0.1:$2
log.dirs=$1/kafka-logs
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# 1 partition instead of 50: creating them costs seconds on 2 cores, and
# with one broker the count changes nothing.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
}

# Start kafka.Kafka with DIR/server.properties and wait for a metadata answer.
_kl_kafka_run() { # dir port mode
    local dir=$1 port=$2 mode=$3
    local home; home=$(_kl_home "$dir")
    local log=$dir/kafka.log pid t0 md deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    t0=$(_kl_now)
    _kl_launch "$log" "$dir/kafka.pid" "$KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS" \
        -Dlog4j.configuration="file:$home/config/log4j.properties" \
        -Dkafka.logs.dir="$dir" \
        -cp "$home/libs/*" kafka.Kafka "$dir/server.properties"
    pid=$(<"$dir/kafka.pid")
    while ((SECONDS < deadline)); do
        _kl_alive "$pid" || { _kl_fail "Kafka ($mode) exited during startup" "$log"; return 1; }
        # kcat waits its full -m timeout on a closed port: probe the port first.
        _kl_port_busy "$port" || { sleep 0.2; continue; }
        md=$(timeout 5 kcat -b "127.0.0.1:$port" -L -m 2 2>/dev/null || true)
        if grep -q "broker .* at 127.0.0.1:$port" <<<"$md"; then
            _kl_log "kafka ($mode) up on 127.0.0.1:$port in $(_kl_since "$t0")s (pid $pid)"
            return 0
        fi
        sleep 0.2
    done
    _kl_fail "Kafka ($mode) gave no metadata on 127.0.0.1:$port within ${KAFKA_START_TIMEOUT}s" "$log"
    _kl_stop_pidfile "$dir/kafka.pid" kafka
    return 1
}

_kl_kafka_precheck() { # dir port...
    local dir=$1 p; shift
    [[ -d $(_kl_home "$dir")/libs ]] || { _kl_log "ERROR: $(_kl_home "$dir")/libs missing (kafka_unpack first)"; return 1; }
    command -v kcat >/dev/null || { _kl_log "ERROR: kcat not installed (apt-get install kcat)"; return 1; }
    for p in "$@"; do
        _kl_port_busy "$p" && { _kl_log "ERROR: 127.0.0.1:$p already in use"; return 1; }
    done
    mkdir -p "$dir/kafka-logs"
}

kafka_start_zk() { # DIR PORT ZKPORT [key=value...]
    local dir port=$2 zkport=$3
    dir=$(cd "$1" && pwd) || return 1
    shift 3
    _kl_kafka_precheck "$dir" "$port" || return 1
    {
        echo "broker.id=0"
        echo "zookeeper.connect=127.0.0.1:$zkport"
        echo "zookeeper.connection.timeout.ms=18000"
        echo "listeners=PLAINTEXT://127.0.0.1:$port"
        _kl_common_props "$dir" "$port"
        printf '%s\n' "$@"
    } >"$dir/server.properties"
    _kl_kafka_run "$dir" "$port" zookeeper
}

# The storage formatter's class: kafka.tools.StorageTool in 3.x (core jar);
# looked up so a newer distribution keeps working if it moves.
_kl_storage_tool() { # home
    python3 - "$1"/libs/kafka*.jar <<'EOF'
import sys, zipfile
for c in ("kafka.tools.StorageTool", "org.apache.kafka.tools.StorageTool"):
    for jar in sys.argv[1:]:
        if c.replace(".", "/") + ".class" in zipfile.ZipFile(jar).namelist():
            print(c); sys.exit(0)
print("kafka.tools.StorageTool")
EOF
}

# Kafka's Uuid: 16 random bytes, base64url without padding, not starting with '-'.
_kl_cluster_id() {
    python3 -c 'import base64, os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    if not u.startswith("-"): print(u); break'
}

kafka_start_kraft() { # DIR PORT CONTROLLERPORT [key=value...]
    local dir port=$2 cport=$3
    dir=$(cd "$1" && pwd) || return 1
    shift 3
    _kl_kafka_precheck "$dir" "$port" "$cport" || return 1
    local home; home=$(_kl_home "$dir")
    {
        echo "process.roles=broker,controller"
        echo "node.id=1"
        echo "controller.quorum.voters=1@127.0.0.1:$cport"
        echo "controller.listener.names=CONTROLLER"
        echo "inter.broker.listener.name=PLAINTEXT"
        echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
        _kl_common_props "$dir" "$port"
        printf '%s\n' "$@"
    } >"$dir/server.properties"
    # KRaft log dirs must be formatted (meta.properties + cluster id) once.
    if [[ ! -f $dir/kafka-logs/meta.properties ]]; then
        local tool t0 opts_a; tool=$(_kl_storage_tool "$home"); t0=$(_kl_now)
        read -r -a opts_a <<<"$ZK_HEAP_OPTS $ZK_JVM_OPTS"
        if ! java "${opts_a[@]}" \
                -Dlog4j.configuration="file:$home/config/log4j.properties" \
                -cp "$home/libs/*" "$tool" format -t "$(_kl_cluster_id)" \
                -c "$dir/server.properties" >>"$dir/kafka-format.log" 2>&1; then
            _kl_fail "storage format ($tool) failed" "$dir/kafka-format.log"
            return 1
        fi
        _kl_log "kraft storage formatted with $tool in $(_kl_since "$t0")s"
    fi
    _kl_kafka_run "$dir" "$port" kraft
}

kafka_stop() { _kl_stop_pidfile "$1/kafka.pid" kafka; }

# ---- a broker that takes only SASL_SSL from clients -----------------------

# One certificate signed by the CA of DIR (ca.pem, ca.key): DIR/NAME.pem and
# DIR/NAME.key (PKCS#8, mode 0600), subject CN, and the subjectAltName SAN
# ("" for none).
_kl_tls_cert() { # dir name cn san
    local dir=$1 ext=$1/$2.ext
    : >"$ext"
    [[ -n $4 ]] && echo "subjectAltName=$4" >"$ext"
    (umask 077 && openssl req -newkey rsa:2048 -nodes -keyout "$dir/$2.key"         -out "$dir/$2.csr" -subj "/CN=$3" 2>/dev/null) &&
    openssl x509 -req -in "$dir/$2.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key"         -CAcreateserial -days 2 -out "$dir/$2.pem" -extfile "$ext" 2>/dev/null
}

# A test CA and what it signs, in DIR (made if need be):
#   ca.pem / ca.key        the CA
#   broker.pem / .key      the broker's, subjectAltName DNS:SAN... (default
#                          localhost only, so 127.0.0.1 is a name mismatch)
#   broker-keystore.pem    key and chain, as the broker's PEM keystore
#   client.pem / .key      a client's (CN=cdc-agent), for mutual TLS
#   other-ca.pem           a second CA that signed none of them
kafka_tls_make() { # DIR [SAN...]
    local dir=$1 san="" n; shift
    for n in "${@:-localhost}"; do san+="${san:+,}DNS:$n"; done
    mkdir -p "$dir" || return 1
    (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cdc-test-ca"         -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null &&
     openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cdc-test-ca"         -keyout "$dir/other-ca.key" -out "$dir/other-ca.pem" 2>/dev/null) &&
    _kl_tls_cert "$dir" broker localhost "$san" &&
    _kl_tls_cert "$dir" client cdc-agent "" &&
    (umask 077 && cat "$dir/broker.key" "$dir/broker.pem" "$dir/ca.pem" >"$dir/broker-keystore.pem") &&
    chmod 644 "$dir/ca.pem" "$dir/other-ca.pem" "$dir/client.pem" ||
        { _kl_log "ERROR: openssl could not make the test certificates in $dir"; return 1; }
}

# A ZooKeeper-mode broker whose clients' listener, SECURE on localhost:PORT
# (bound to 127.0.0.1), takes only SASL_SSL with SCRAM-SHA-512 and a client
# certificate signed by TLSDIR's CA (kafka_tls_make); the brokers and the
# test's tools use INTERNAL, PLAINTEXT on 127.0.0.1:IPORT.  Users:
# kafka_scram_user.  ACLs are enforced: a SCRAM user may do only what
# kafka_acl granted it; INTERNAL's clients (User:ANONYMOUS) are super users.
kafka_start_zk_secured() { # DIR PORT IPORT ZKPORT TLSDIR [key=value...]
    local dir port=$2 iport=$3 zkport=$4 tls
    dir=$(cd "$1" && pwd) || return 1
    tls=$(cd "$5" && pwd) || return 1
    shift 5
    _kl_kafka_precheck "$dir" "$port" "$iport" || return 1
    {
        echo "broker.id=0"
        echo "zookeeper.connect=127.0.0.1:$zkport"
        echo "zookeeper.connection.timeout.ms=18000"
        _kl_common_props "$dir" "$iport"
        echo "listeners=INTERNAL://127.0.0.1:$iport,SECURE://127.0.0.1:$port"
        echo "advertised.listeners=INTERNAL://127.0.0.1:$iport,SECURE://localhost:$port"
        echo "listener.security.protocol.map=INTERNAL:PLAINTEXT,SECURE:SASL_SSL"
        echo "inter.broker.listener.name=INTERNAL"
        echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
        echo "listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        echo "listener.name.secure.ssl.keystore.type=PEM"
        echo "listener.name.secure.ssl.keystore.location=$tls/broker-keystore.pem"
        echo "listener.name.secure.ssl.truststore.type=PEM"
        echo "listener.name.secure.ssl.truststore.location=$tls/ca.pem"
        echo "listener.name.secure.ssl.client.auth=required"
        # Refusals by ACL can be tested: nothing is allowed that no ACL
        # grants, except to the broker itself and the test's tools.
        echo "authorizer.class.name=kafka.security.authorizer.AclAuthorizer"
        echo "allow.everyone.if.no.acl.found=false"
        echo "super.users=User:ANONYMOUS"
        printf '%s\n' "$@"
    } >"$dir/server.properties"
    # Ready when INTERNAL answers (kcat here speaks plaintext only).
    _kl_kafka_run "$dir" "$iport" zookeeper
}

# A SCRAM-SHA-512 user with the first line of PASSWORD_FILE as password, set
# through the INTERNAL listener of a kafka_start_zk_secured broker.
kafka_scram_user() { # DIR IPORT USER PASSWORD_FILE
    local home opts_a pw; home=$(_kl_home "$1")
    pw=$(head -n 1 "$4") || return 1
    read -r -a opts_a <<<"$ZK_HEAP_OPTS $ZK_JVM_OPTS"
    java "${opts_a[@]}" -Dlog4j.configuration="file:$home/config/log4j.properties"         -cp "$home/libs/*" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$2"         --alter --entity-type users --entity-name "$3"         --add-config "SCRAM-SHA-512=[iterations=4096,password=$pw]" >>"$1/scram.log" 2>&1 ||
        _kl_fail "SCRAM user $3 not created" "$1/scram.log"
}

# ACLs through the INTERNAL listener of a kafka_start_zk_secured broker:
# kafka.admin.AclCommand --add with ARGS (e.g. --allow-principal User:u
# --operation Write --topic t).  One JVM per call: group what you can.
kafka_acl() { # DIR IPORT ARGS...
    local dir=$1 home opts_a; home=$(_kl_home "$1")
    read -r -a opts_a <<<"$ZK_HEAP_OPTS $ZK_JVM_OPTS"
    java "${opts_a[@]}" -Dlog4j.configuration="file:$home/config/log4j.properties" \
        -cp "$home/libs/*" kafka.admin.AclCommand --bootstrap-server "127.0.0.1:$2" \
        --add --force "${@:3}" >>"$dir/acl.log" 2>&1 ||
        _kl_fail "ACLs not added: ${*:3}" "$dir/acl.log"
}
