#!/usr/bin/env bash
# runs-under-sanitizer
# A Kafka the agent does not run (issue #16, point 4): [kafka] managed =
# false, a SASL_SSL cluster started by the test (as 79's), two PostgreSQL
# clusters of their own.
#   - check passes; plan installs and starts no ZooKeeper or Kafka and says
#     the cluster answers every pipeline's users, their topics creatable;
#   - a wrong password for apply's user: plan fails naming the user and
#     the broker's words; a topic the broker would refuse (replication
#     factor 3 on one broker) named with its reason; a capture user the
#     broker's ACLs do not let create the topic, named with what to grant;
#     a key of the broker the agent installs (heap) or a [zookeeper]
#     section under managed = false: an error at FILE:LINE;
#   - status shows kafka as external, healthy; capture and apply replicate
#     through the cluster (row digest equal).
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/capture_env.sh"
trap capture_env_down EXIT
CAPTURE_PARTITIONS=2

secured_env_up 'managed = false
' || { _fail "environment comes up"; [ -n "${WORK:-}" ] && tail -n 20 "$WORK/bootstrap.log" "$WORK/kafka/kafka.log" 2>/dev/null | sed 's/^/    # /'; finish; exit; }

agent_run -c "$T" check
check_eq "check passes (managed = false, no [zookeeper])" 0 "$AGENT_RC"
check_contains "bootstrap verified the cluster" \
	"kafka: the cluster (managed = false) answers every pipeline's capture and apply" \
	"$(cat "$WORK/bootstrap.log")"

agent_run -c "$T" plan
check_eq "plan passes" 0 "$AGENT_RC"
check_contains "plan says the cluster answers, topics creatable" \
	"their topics exist or can be created" "$AGENT_OUT$AGENT_ERR"
check_not_contains "plan installs no Kafka and starts no ZooKeeper or Kafka" \
	"kafka.service" "$AGENT_OUT$AGENT_ERR"
check_not_contains "plan names no zookeeper step" "zookeeper" "$AGENT_OUT$AGENT_ERR"

# A variant of the topology: every line matching SED's address changed.
variant() { # NAME SED-SCRIPT
	sed "$2" "$T" >"$WORK/$1.ini"
}

variant wrong-password "s|^apply_kafka_password_file = .*|apply_kafka_password_file = $WORK/wrong-kafka.pass|"
agent_run -c "$WORK/wrong-password.ini" plan
check_eq "plan with a wrong password for apply's user fails (exit 1)" 1 "$AGENT_RC"
check_contains "plan names apply's user and the broker's words" \
	"Kafka localhost:$KP, apply of pipeline p1 as user apply-p1: no answer to a metadata request" \
	"$AGENT_ERR"
check_contains "plan says why: SASL refused the password" \
	"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512" \
	"$AGENT_ERR"
check_not_contains "capture's user is not blamed" "as user capture-p1" "$AGENT_ERR"

# The topic is missing yet: the broker says whether capture's user could
# create it as configured (validate_only).
variant too-many-replicas "s|^partitions = .*|&\nreplication_factor = 3|"
agent_run -c "$WORK/too-many-replicas.ini" plan
check_eq "plan with replication_factor 3 on one broker fails (exit 1)" 1 "$AGENT_RC"
check_contains "plan names the user, the topic and the broker's words" \
	"as user capture-p1: topic db1server.public.t is missing and cannot be created (2 partitions, replication factor 3" \
	"$AGENT_ERR"
check_contains "the broker's reason" "larger than available brokers" "$AGENT_ERR"

# The broker enforces ACLs (capture_env.sh secured_user): apply's user may
# not create capture's topic.
variant capture-as-apply "s|^capture_kafka_user = .*|capture_kafka_user = apply-p1|; s|^capture_kafka_password_file = .*|capture_kafka_password_file = $WORK/apply-kafka.pass|"
agent_run -c "$WORK/capture-as-apply.ini" plan
check_eq "plan with a capture user the ACLs refuse fails (exit 1)" 1 "$AGENT_RC"
check_contains "plan names the user, the topic, the ACL and what to grant" \
	"as user apply-p1: the brokers refused user apply-p1 creating topic db1server.public.t: not authorized by an ACL (" \
	"$AGENT_ERR"
check_contains "what to grant" "grant the user Create on the topic (or on the cluster)" "$AGENT_ERR"

variant managed-heap "s|^managed = false|managed = false\nheap = 1g|"
line=$(grep -n '^heap = 1g' "$WORK/managed-heap.ini" | cut -d: -f1)
agent_run -c "$WORK/managed-heap.ini" check
check_eq "check refuses heap under managed = false (exit 3)" 3 "$AGENT_RC"
check_contains "at FILE:LINE" \
	"$WORK/managed-heap.ini:$line: error: [kafka] heap is only for a Kafka the agent runs (managed = true)" \
	"$AGENT_ERR"

converged() { wait_converged "$1" t tgt:db2; } # SECONDS
# status before capture made the topic: its probes must not have the broker
# (auto.create.topics.enable) create it with its own partition count, which
# capture would then refuse (fewer partitions than configured).
"$CDC_AGENT" -c "$T" status --json >/dev/null 2>&1
capture_start p1
apply_start p1
check "snapshot through the external cluster: t equal in the target" converged 90
pg_psql src db1 "
INSERT INTO t SELECT g, 'new ' || g FROM generate_series(301, 500) g;
UPDATE t SET v = v || ' (updated)' WHERE id % 7 = 0;
DELETE FROM t WHERE id % 11 = 0;
" >/dev/null
check "changes through the external cluster: t equal in the target" converged 60
pipeline_stop p1

check_eq "status: kafka healthy, external, no unit" "True None True None" \
	"$("$CDC_AGENT" -c "$T" status --json 2>/dev/null | python3 -c 'import json, sys
d = json.load(sys.stdin)["components"]
c = [c for c in d if c["name"] == "kafka"][0]
print(c["healthy"], c["error"], c.get("external"), c["unit"])')"
check_eq "status lists no zookeeper" "" \
	"$("$CDC_AGENT" -c "$T" status --json 2>/dev/null | python3 -c 'import json, sys
print(" ".join(c["name"] for c in json.load(sys.stdin)["components"] if c["name"] == "zookeeper"))')"


# Once the topic exists, plan finds it (metadata) and still passes.
agent_run -c "$T" plan
check_eq "plan passes with the topic there" 0 "$AGENT_RC"

finish
