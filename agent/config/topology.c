/*
 * agent/config/topology.c: loads cdc-agent.ini into a typed, validated topology.
 *
 * read_file() splits lines into sections, keys and values as inih would
 * (inih itself is not used: its lines end at 199 bytes), keeping the line
 * of each key and of each continuation line for FILE:LINE errors.  The
 * schema tables below drive parsing, defaults and "did you mean"
 * suggestions.
 */
#include "config/topology.h"

#include "base/host_addresses.h"
#include "base/log.h"
#include "config/kafka_limits.h"
#include "config/topo_values.h"
#include "config/topo_warnings.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- schema ---------------------------------------------------------- */

/* The option enums' name tables (topology.h): indexed by value, so an
 * enum's order is no part of a key's meaning.  A value added without its
 * name fails the build (a hole in the middle fails test_topology);
 * value_parse stores the enum through an int. */
#define ENUM_NAMES(type, count, ...)                                                        \
	const char *const type##_names[] = { __VA_ARGS__ };                                 \
	_Static_assert(ARRAY_LEN(type##_names) == (count), #type "_names: a name a value"); \
	_Static_assert(sizeof(enum type) == sizeof(int), "enum " #type " is an int")

ENUM_NAMES(kafka_mode, KAFKA_MODE_COUNT,
	   [KAFKA_MODE_ZOOKEEPER] = "zookeeper", [KAFKA_MODE_KRAFT] = "kraft");
ENUM_NAMES(kafka_compression, KAFKA_COMPRESSION_COUNT,
	   [KAFKA_COMPRESSION_LZ4] = "lz4", [KAFKA_COMPRESSION_NONE] = "none",
	   [KAFKA_COMPRESSION_ZSTD] = "zstd", [KAFKA_COMPRESSION_SNAPPY] = "snappy",
	   [KAFKA_COMPRESSION_GZIP] = "gzip");
ENUM_NAMES(manage_hba, MANAGE_HBA_COUNT,
	   [MANAGE_HBA_AUTO] = "auto", [MANAGE_HBA_YES] = "yes", [MANAGE_HBA_NO] = "no");
ENUM_NAMES(pg_sslmode, PG_SSLMODE_COUNT,
	   [PG_SSLMODE_PREFER] = "prefer", [PG_SSLMODE_DISABLE] = "disable",
	   [PG_SSLMODE_ALLOW] = "allow", [PG_SSLMODE_REQUIRE] = "require",
	   [PG_SSLMODE_VERIFY_CA] = "verify-ca", [PG_SSLMODE_VERIFY_FULL] = "verify-full");
ENUM_NAMES(snapshot_mode, SNAPSHOT_MODE_COUNT,
	   [SNAPSHOT_INITIAL] = "initial", [SNAPSHOT_NEVER] = "never",
	   [SNAPSHOT_INITIAL_ONLY] = "initial_only", [SNAPSHOT_WHEN_NEEDED] = "when_needed");
ENUM_NAMES(decimal_mode, DECIMAL_MODE_COUNT,
	   [DECIMAL_STRING] = "string", [DECIMAL_PRECISE] = "precise",
	   [DECIMAL_DOUBLE] = "double");
ENUM_NAMES(interval_mode, INTERVAL_MODE_COUNT,
	   [INTERVAL_NUMERIC] = "numeric", [INTERVAL_STRING] = "string");
ENUM_NAMES(insert_mode, INSERT_MODE_COUNT,
	   [INSERT_MODE_UPSERT] = "upsert", [INSERT_MODE_INSERT] = "insert");
ENUM_NAMES(schema_changes, SCHEMA_CHANGES_COUNT,
	   [SCHEMA_CHANGES_FOLLOW] = "follow", [SCHEMA_CHANGES_ADDITIVE] = "additive");
ENUM_NAMES(consistency, CONSISTENCY_COUNT,
	   [CONSISTENCY_TRANSACTION] = "transaction", [CONSISTENCY_TABLE] = "table");

/* Each key's last argument is its description for cdc-agent.ini(5)
 * (topo_doc.c, `make man`): what it does, in sentences; `key` prints in
 * bold.  Type, default, range and requiredness come from the other
 * arguments, so the text does not repeat them.  test_topo_doc fails on a
 * key without one. */
#define KEY(st, key, type, field, req, def, desc) \
	{ key, type, offsetof(struct st, field), req, def, NULL, 0, 0, 0, desc }
/* names: an enum's name table (the field's type is that enum). */
#define KEY_ENUM(st, key, field, def, names, desc) \
	{ key, V_ENUM, offsetof(struct st, field), false, def, names, ARRAY_LEN(names), 0, 0, desc }
#define KEY_INT(st, key, field, def, lo, hi, desc) \
	{ key, V_INT, offsetof(struct st, field), false, def, NULL, 0, lo, hi, desc }
#define KEY_SIZE(st, key, field, def, lo, desc) \
	{ key, V_SIZE, offsetof(struct st, field), false, def, NULL, 0, lo, 0, desc }
#define KEY_SIZE_RANGE(st, key, field, def, lo, hi, desc) \
	{ key, V_SIZE, offsetof(struct st, field), false, def, NULL, 0, lo, hi, desc }

/* Keys shared by [source] and [target]: how to reach the server. */
#define PG_SERVER_KEYS(st, admin_db_default)                                                \
	KEY(st, "host", V_HOST, pg.host, true, NULL,                                         \
	    "The server's host name, IP address or socket directory, for the pipeline "      \
	    "role's connections (capture, apply, status, health checks)."),                  \
	KEY(st, "port", V_PORT, pg.port, false, "5432", "The server's port."),               \
	KEY(st, "dbname", V_PG_NAME, pg.dbname, true, NULL,                                  \
	    "The database the pipeline reads (a source) or writes (a target, which "         \
	    "bootstrap creates when missing)."),                                             \
	KEY(st, "user", V_PG_NAME, pg.user, true, NULL,                                      \
	    "The role capture or apply connects as. bootstrap creates it (LOGIN, and "       \
	    "REPLICATION on a source) and sets its password to the one in "                  \
	    "`password_file` whenever they differ."),                                        \
	KEY(st, "password_file", V_SECRET_FILE, pg.password_file, true, NULL,                \
	    "The file whose first line is `user`'s password, readable by its owner only "    \
	    "(mode 0600). Passwords never appear in the topology, on a command line or in "  \
	    "a log."),                                                                       \
	KEY(st, "admin_user", V_PG_NAME, pg.admin_user, false, "postgres",                   \
	    "The superuser plan and bootstrap connect as to provision the server "           \
	    "(settings, roles, pg_hba.conf, publication, grants) and status uses for its "   \
	    "slot queries."),                                                                \
	KEY(st, "admin_password_file", V_SECRET_FILE, pg.admin_password_file, false, NULL,   \
	    "The file whose first line is `admin_user`'s password (mode 0600). Unset: no "   \
	    "password, as for peer authentication over a local socket."),                    \
	KEY(st, "admin_host", V_HOST, pg.admin_host, false, NULL,                            \
	    "The host, address or socket directory of the admin connection. Unset: `host`."), \
	KEY(st, "admin_port", V_PORT, pg.admin_port, false, NULL,                            \
	    "The port of the admin connection. Unset: `port`."),                             \
	KEY(st, "admin_dbname", V_PG_NAME, pg.admin_dbname, false, admin_db_default,         \
	    "The database the admin connection opens; on a source, `dbname` unless set."),  \
	KEY(st, "service", V_UNIT, pg.service, false, NULL,                                  \
	    "The systemd service running the server, which bootstrap restarts (over "        \
	    "D-Bus) when a setting it changed needs a restart: wal_level, "                  \
	    "max_replication_slots, max_wal_senders. Unset: Debian's "                       \
	    "postgresql@VERSION-CLUSTER.service, from the server's cluster_name; with "      \
	    "neither, exit code 4 names the restart left to do."),                           \
	KEY_ENUM(st, "manage_hba", pg.manage_hba, "auto", manage_hba_names,                  \
		 "Whether bootstrap keeps a marked block of pg_hba.conf lines letting `user` " \
		 "reach `dbname` from `hba_allow`, ahead of the operator's rules: auto when "  \
		 "the server is on this host (`admin_host`, else `host`, is a socket "         \
		 "directory or a loopback address), yes, or no (write the lines yourself)."),  \
	KEY(st, "hba_allow", V_CIDRS, pg.hba_allow, false, "127.0.0.1/32, ::1/128",          \
	    "The addresses (address/prefix, comma-separated) the pg_hba.conf block lets "    \
	    "`user` connect from."),                                                         \
	KEY_ENUM(st, "sslmode", pg.sslmode, "prefer", pg_sslmode_names,                      \
		 "libpq's sslmode, for every connection to the server (over a socket libpq "   \
		 "uses no TLS whatever the mode). require, verify-ca and verify-full make the " \
		 "pg_hba.conf lines hostssl; verify-ca and verify-full need `sslrootcert`, "   \
		 "and verify-full connects by the name in the server's certificate."),         \
	KEY(st, "sslrootcert", V_CERT_FILE, pg.sslrootcert, false, NULL,                     \
	    "The CA certificates (PEM) that signed the server's certificate."),              \
	KEY(st, "sslcert", V_CERT_FILE, pg.sslcert, false, NULL,                             \
	    "A client certificate (PEM), with `sslkey`."),                                   \
	KEY(st, "sslkey", V_KEY_FILE, pg.sslkey, false, NULL,                                \
	    "The private key of `sslcert` (mode 0600; bootstrap gives it to the cdc-agent "  \
	    "user with `manage_units`).")

static const struct key_spec agent_keys[] = {
	KEY(agent_cfg, "state_dir", V_ABS_PATH, state_dir, false, "/var/lib/cdc-agent",
	    "Where capture and apply keep their state (progress, event counts, snapshot "
	    "state, the pipelines' schema keys), owned by the cdc-agent user; what only root "
	    "may change lives in its root/ subdirectory."),
	KEY(agent_cfg, "config_dir", V_ABS_PATH, config_dir, false, "/etc/cdc-agent",
	    "Where bootstrap writes the configuration it renders for ZooKeeper and Kafka, and "
	    "the certificates of a broker it secures (kafka-tls/)."),
	KEY(agent_cfg, "unit_dir", V_ABS_PATH, unit_dir, false, "/etc/systemd/system",
	    "Where bootstrap writes the systemd units it renders (zookeeper, kafka, "
	    "cdc-capture@, cdc-apply@, cdc-agent)."),
	KEY(agent_cfg, "cache_dir", V_ABS_PATH, cache_dir, false, "/var/cache/cdc-agent",
	    "Where the Kafka distribution of [kafka] `dist` is downloaded and kept once its "
	    "SHA-512 checked."),
	KEY(agent_cfg, "manage_units", V_BOOL, manage_units, false, "true",
	    "Whether bootstrap also makes the host match the topology once the databases "
	    "converged: system users, directories, Kafka and ZooKeeper installed, "
	    "configuration and units rendered, and every unit started over D-Bus. false: the "
	    "databases only; the processes are yours to run, and status shows no units."),
	KEY_INT(agent_cfg, "reconcile_seconds", reconcile_seconds, "30", 5, 86400,
		"How often, in seconds, `cdc-agent run` makes the host match the topology "
		"again (it also does on SIGHUP: systemctl reload cdc-agent)."),
	KEY_INT(agent_cfg, "stall_seconds", stall_seconds, "60", 2, 86400,
		"A pipeline with work pending and no progress for this many seconds is "
		"STALLED in status."),
	KEY(agent_cfg, "status_listen", V_LISTEN, status_listen, false, "127.0.0.1:8083",
	    "Where `cdc-agent run` serves its status over HTTP: /connectors and "
	    "/connectors/NAME/status in Kafka Connect's shape, /metrics for Prometheus and "
	    "/status; `cdc-agent status` asks it first. off: no endpoint."),
	KEY(agent_cfg, "address", V_ADDRESS, address, false, NULL,
	    "Which host this is, among the addresses of the topology ([kafka_node] `address`, "
	    "[source] `capture_address`, [target] `apply_address`): this host converges the "
	    "parts named with it. Unset: the host's own interface addresses and host name."),
};

/* [kafka]'s security keys (kafka_client.c sets them on every client). */
ENUM_NAMES(kafka_security, KAFKA_SECURITY_COUNT,
	   [KAFKA_SECURITY_PLAINTEXT] = "plaintext", [KAFKA_SECURITY_SSL] = "ssl",
	   [KAFKA_SECURITY_SASL_PLAINTEXT] = "sasl_plaintext",
	   [KAFKA_SECURITY_SASL_SSL] = "sasl_ssl");
ENUM_NAMES(kafka_sasl_mechanism, KAFKA_SASL_MECHANISM_COUNT,
	   [KAFKA_SASL_SCRAM_SHA_512] = "scram-sha-512",
	   [KAFKA_SASL_SCRAM_SHA_256] = "scram-sha-256", [KAFKA_SASL_PLAIN] = "plain");
const char *const kafka_sasl_mechanism_rdkafka_names[] = {
	[KAFKA_SASL_SCRAM_SHA_512] = "SCRAM-SHA-512",
	[KAFKA_SASL_SCRAM_SHA_256] = "SCRAM-SHA-256", [KAFKA_SASL_PLAIN] = "PLAIN",
};
_Static_assert(ARRAY_LEN(kafka_sasl_mechanism_rdkafka_names) == KAFKA_SASL_MECHANISM_COUNT,
	       "kafka_sasl_mechanism_rdkafka_names: a name a value");

static const struct key_spec kafka_keys[] = {
	/* false: a cluster the agent does not run (its own or a managed
	 * service); check_kafka_managed refuses the keys of the broker the
	 * agent would install (kafka_managed_only_keys). */
	KEY(kafka_cfg, "managed", V_BOOL, managed, false, "true",
	    "true: a Kafka the agent runs; with `dist`, bootstrap installs, configures and "
	    "starts the broker (and ZooKeeper in mode zookeeper). false: a cluster the agent "
	    "does not run (your own, or a managed service): bootstrap makes only the pipelines' "
	    "units, and the broker's keys (`mode`, `dist`, `sha512`, `install_dir`, `data_dir`, "
	    "`heap`, `broker_cert_file`, `broker_key_file`) and a [zookeeper] section are "
	    "refused."),
	KEY_ENUM(kafka_cfg, "mode", mode, "zookeeper", kafka_mode_names,
		 "How the broker the agent installs keeps its metadata: zookeeper (in the "
		 "ZooKeeper of [zookeeper], which the agent runs too) or kraft (the broker is "
		 "its own controller; no ZooKeeper)."),
	KEY(kafka_cfg, "dist", V_URL, dist, false, NULL,
	    "The Kafka distribution tarball bootstrap installs (http://, https:// or file://), "
	    "with `sha512`. Unset: no broker installed by the agent."),
	KEY(kafka_cfg, "sha512", V_SHA512, sha512, false, NULL,
	    "The SHA-512 of the `dist` tarball, checked while it downloads and before anything "
	    "is unpacked; required with `dist`."),
	KEY(kafka_cfg, "install_dir", V_ABS_PATH, install_dir, false, "/opt/kafka",
	    "The symbolic link to the Kafka installed; each version is unpacked beside it and "
	    "the link switched atomically, so a failed install leaves the old one. Not directly "
	    "under /."),
	KEY(kafka_cfg, "bootstrap_servers", V_HOSTPORTS, bootstrap_servers, false,
	    "127.0.0.1:9092",
	    "The brokers every client connects to (capture, apply, status, health checks), and "
	    "the clients' listener of the broker the agent installs. Under TLS, name the brokers "
	    "as their certificates do."),
	KEY_INT(kafka_cfg, "partitions", partitions, "1", 1, 10000,
		"The number of partitions of each topic the agent creates."),
	KEY_INT(kafka_cfg, "replication_factor", replication_factor, "1", 1, 32,
		"The replication factor of each topic the agent creates (at most the number "
		"of brokers: of [kafka_node] sections when there are)."),
	KEY_INT(kafka_cfg, "min_insync_replicas", min_insync_replicas, "1", 1, 32,
		"The min.insync.replicas of each topic the agent creates, and of the cluster "
		"it runs: with producers' acks=all, a write succeeds once this many replicas "
		"have it (at most `replication_factor`)."),
	KEY(kafka_cfg, "data_dir", V_ABS_PATH, data_dir, false, "/var/lib/kafka",
	    "The data directory (log.dirs) of the broker the agent installs."),
	KEY(kafka_cfg, "heap", V_HEAP, heap, false, "512m",
	    "The JVM heap of the broker the agent installs (-Xms and -Xmx); it must hold a few "
	    "records of `max_message_bytes`."),
	KEY_ENUM(kafka_cfg, "compression", compression, "lz4", kafka_compression_names,
		 "The compression of the records capture produces."),
	/* Bounds: below Kafka's own default (1 MiB) ordinary wide rows would be
	 * refused; above 512MB the derived limits (kafka_limits.h: the batch
	 * with its room, the consumer's receive buffer) near librdkafka's caps
	 * (message.max.bytes 1e9) and no broker heap we render holds it. */
	KEY_SIZE_RANGE(kafka_cfg, "max_message_bytes", max_message_bytes, "64MB",
		       KAFKA_MAX_MESSAGE_MIN, KAFKA_MAX_MESSAGE_MAX,
		       "The largest record capture produces (key, value and headers): a bigger "
		       "change stops capture with exit code 65, naming table, key and size. The "
		       "topics, the producer, apply's consumer and the broker the agent installs "
		       "are sized from it."),
	/* The connection of every client (kafka_client.c); the checks
	 * between them are check_kafka_security's. */
	KEY_ENUM(kafka_cfg, "security_protocol", security_protocol, "plaintext",
		 kafka_security_names,
		 "How every client connects to the brokers: plaintext, ssl (TLS), "
		 "sasl_plaintext (SASL without TLS) or sasl_ssl (both). Under sasl_*, every "
		 "[pipeline] names its capture and apply users. The broker the agent installs "
		 "speaks plaintext or sasl_ssl; check warns of a broker off loopback without "
		 "TLS."),
	KEY_ENUM(kafka_cfg, "sasl_mechanism", sasl_mechanism, "scram-sha-512",
		 kafka_sasl_mechanism_names,
		 "The SASL mechanism under a sasl_* `security_protocol`; the broker the agent "
		 "installs takes scram-sha-512 only."),
	KEY(kafka_cfg, "ssl_ca_file", V_CERT_FILE, ssl_ca_file, false, NULL,
	    "The CA certificates (PEM) that signed the brokers' certificates. Unset: the "
	    "system's CAs, or the agent's own CA when it issues the certificate of the broker "
	    "it installs."),
	KEY(kafka_cfg, "ssl_cert_file", V_CERT_FILE, ssl_cert_file, false, NULL,
	    "A client certificate (PEM) for mutual TLS, with `ssl_key_file`."),
	KEY(kafka_cfg, "ssl_key_file", V_KEY_FILE, ssl_key_file, false, NULL,
	    "The private key (PEM, mode 0600) of `ssl_cert_file`."),
	/* The certificate of the broker the agent installs and secures;
	 * unset: the agent issues one (check_kafka_installed_security). */
	KEY(kafka_cfg, "broker_cert_file", V_CERT_FILE, broker_cert_file, false, NULL,
	    "The certificate of the clients' listener of the broker the agent installs under "
	    "sasl_ssl, with `broker_key_file`. Unset: the agent issues one from its own CA for "
	    "every host of `bootstrap_servers`, localhost and 127.0.0.1."),
	KEY(kafka_cfg, "broker_key_file", V_KEY_FILE, broker_key_file, false, NULL,
	    "The private key (mode 0600) of `broker_cert_file`."),
};

static const struct key_spec zookeeper_keys[] = {
	KEY(zookeeper_cfg, "connect", V_HOSTPORTS, connect, false, "127.0.0.1:2181",
	    "Where the ZooKeeper the agent runs listens and the broker reaches it; on "
	    "loopback under [kafka] security_protocol sasl_ssl, since this ZooKeeper has no "
	    "authentication."),
	KEY(zookeeper_cfg, "data_dir", V_ABS_PATH, data_dir, false, "/var/lib/zookeeper",
	    "The data directory (dataDir) of the ZooKeeper the agent runs."),
};

static const struct key_spec source_keys[] = {
	PG_SERVER_KEYS(source_cfg, NULL),
	KEY(source_cfg, "capture_address", V_ADDRESS, capture_address, false, NULL,
	    "The host (as [agent] `address` or its interfaces name it) that runs the capture "
	    "of this source and the provisioning of its server; required with [kafka_node] "
	    "sections. Unset in a single-host topology: this host."),
	KEY(source_cfg, "publication", V_PG_NAME, publication, true, NULL,
	    "The publication bootstrap creates and keeps with exactly the tables of `tables` "
	    "(publish_via_partition_root on)."),
	KEY(source_cfg, "slot", V_SLOT, slot, true, NULL,
	    "The logical replication slot (pgoutput) capture creates and reads; teardown "
	    "drops it."),
	KEY(source_cfg, "tables", V_TABLES, table_specs, true, NULL,
	    "The tables to capture, comma-separated, over indented continuation lines if need "
	    "be: schema.table as in SQL (unquoted parts fold to lower case, a double-quoted part "
	    "is taken as it is), patterns (* and ? in an unquoted part) resolved against the "
	    "source's catalog, and exclusions (a leading !). Each table goes to the topic "
	    "PREFIX.SCHEMA.TABLE (`topic_prefix`)."),
	KEY(source_cfg, "topic_prefix", V_TOPIC_PART, topic_prefix, false, NULL,
	    "The first part of the topics' names: PREFIX.SCHEMA.TABLE, and PREFIX.transaction. "
	    "Unset: the section's NAME."),
	KEY_INT(source_cfg, "max_replication_slots", max_replication_slots, "4", 1, 10000,
		"bootstrap raises the server's max_replication_slots to at least this (never "
		"lowering a higher value); a restart follows."),
	KEY_INT(source_cfg, "max_wal_senders", max_wal_senders, "4", 1, 10000,
		"bootstrap raises the server's max_wal_senders to at least this (never "
		"lowering a higher value); a restart follows."),
	KEY_ENUM(source_cfg, "snapshot_mode", snapshot_mode, "initial", snapshot_mode_names,
		 "What capture copies besides the stream: initial (the tables, once, when it "
		 "creates the slot), never (only changes from the slot's creation), "
		 "initial_only (the snapshot, then exit), or when_needed (as initial, and a slot "
		 "found missing after capture had started is made again with a new snapshot, "
		 "where initial stops on an error)."),
	KEY(source_cfg, "json_schemas", V_BOOL, json_schemas, false, "true",
	    "Whether events carry the JsonConverter schema block, as Debezium's with "
	    "schemas.enable."),
	/* "precise" with json_schemas (the default), "string" without: see
	 * decimal_default() */
	KEY_ENUM(source_cfg, "decimal_handling", decimal_handling, "precise", decimal_mode_names,
		 "How numeric values go out: precise (Debezium's base64 bytes with the Decimal "
		 "schema, which its JDBC sink needs), string (every digit and the scale) or "
		 "double. The default holds with `json_schemas`; without it the default is "
		 "string."),
	KEY_ENUM(source_cfg, "interval_handling", interval_handling, "string",
		 interval_mode_names,
		 "How interval values go out: string (ISO 8601, Debezium's string mode) or "
		 "numeric (microseconds, Debezium's lossy default)."),
	KEY(source_cfg, "tombstones", V_BOOL, tombstones, false, "true",
	    "Whether a delete event is followed by a tombstone (the key with a null value), so "
	    "log compaction may drop the key."),
	KEY(source_cfg, "truncate_events", V_BOOL, truncate_events, false, "true",
	    "Whether a TRUNCATE goes out as an event (op t); Debezium skips them by default."),
	/* Debezium's provide.transaction.metadata, on by default here: apply's
	 * transaction-consistent mode needs it (issue #17) */
	KEY(source_cfg, "transaction_metadata", V_BOOL, transaction_metadata, false, "true",
	    "Debezium's provide.transaction.metadata: BEGIN and END records on "
	    "PREFIX.transaction, and a transaction block in every streamed change event."),
	KEY_SIZE(source_cfg, "max_slot_wal_keep_size", max_slot_wal_keep_size, "-1", -1,
		 "bootstrap sets the server's max_slot_wal_keep_size to this (a reload, no "
		 "restart): the WAL a slot may retain before PostgreSQL invalidates it rather "
		 "than fill the disk. -1 leaves the server's value alone."),
	KEY_SIZE(source_cfg, "slot_warn_retained", slot_warn_retained, "1GB", 0,
		 "A slot retaining this much WAL is a warning in status."),
};

static const struct key_spec target_keys[] = {
	PG_SERVER_KEYS(target_cfg, "postgres"),
	KEY(target_cfg, "apply_address", V_ADDRESS, apply_address, false, NULL,
	    "The host that runs the apply of every pipeline into this target and the "
	    "provisioning of its server; required with [kafka_node] sections. Unset in a "
	    "single-host topology: this host."),
	KEY_ENUM(target_cfg, "insert_mode", insert_mode, "upsert", insert_mode_names,
		 "How apply writes a created or snapshot row: upsert (INSERT ... ON CONFLICT on "
		 "the key, so a row already there is updated) or insert (a plain INSERT, as the "
		 "JDBC sink's insert.mode=insert: a row already there is an error)."),
	KEY(target_cfg, "auto_create", V_BOOL, auto_create, false, "true",
	    "Whether apply creates a missing table from the source's exact types, with the key "
	    "as primary key. false: a record of an unknown table stops apply."),
	KEY(target_cfg, "auto_evolve", V_BOOL, auto_evolve, false, "true",
	    "Whether apply follows the source's schema changes ([pipeline] schema_changes says "
	    "which). false: a schema change stops apply naming the table."),
};

static const struct key_spec pipeline_keys[] = {
	KEY(pipeline_cfg, "source", V_STRING, source_name, true, NULL,
	    "The NAME of the [source NAME] section whose tables the pipeline captures. "
	    "Several pipelines may read one source (fan-out): the first of them in the file "
	    "captures it, the others only apply its topics."),
	KEY(pipeline_cfg, "target", V_STRING, target_name, true, NULL,
	    "The NAME of the [target NAME] section the pipeline applies to."),
	KEY_ENUM(pipeline_cfg, "schema_changes", schema_changes, "follow", schema_changes_names,
		 "Which schema changes at the source apply follows: follow (every one: added, "
		 "dropped and renamed columns, types, defaults, NOT NULL) or additive (never "
		 "drops a column, narrows a type or sets NOT NULL)."),
	/* transaction needs the source's transaction_metadata (check_consistency) */
	KEY_ENUM(pipeline_cfg, "consistency", consistency, "transaction", consistency_names,
		 "How apply commits: transaction applies each source transaction whole, across "
		 "tables, in source commit order and, within it, in source order (a target with "
		 "the source's foreign keys accepts it; several whole transactions may share one "
		 "target transaction); table commits each topic's changes in batches of their "
		 "own, as Debezium's JDBC sink does. transaction needs the source's "
		 "`transaction_metadata`; left unset with that off, table."),
	/* Who capture and apply are to the brokers under a sasl_*
	 * security_protocol (check_kafka_security). */
	KEY(pipeline_cfg, "capture_kafka_user", V_STRING, capture_kafka.user, false, NULL,
	    "The Kafka user capture logs in as; required under a sasl_* [kafka] "
	    "security_protocol."),
	KEY(pipeline_cfg, "capture_kafka_password_file", V_SECRET_FILE_NEW,
	    capture_kafka.password_file, false, NULL,
	    "The file whose first line is `capture_kafka_user`'s password (mode 0600). On the "
	    "secured broker the agent installs, bootstrap makes it when missing and creates "
	    "the user with its rights."),
	KEY(pipeline_cfg, "apply_kafka_user", V_STRING, apply_kafka.user, false, NULL,
	    "The Kafka user apply logs in as (in the consumer group cdc-agent.NAME); required "
	    "under a sasl_* [kafka] security_protocol."),
	KEY(pipeline_cfg, "apply_kafka_password_file", V_SECRET_FILE_NEW, apply_kafka.password_file,
	    false, NULL,
	    "The file whose first line is `apply_kafka_user`'s password (mode 0600). On the "
	    "secured broker the agent installs, bootstrap makes it when missing and creates "
	    "the user with its rights."),
};

/* A node of the Kafka cluster the agent runs (KRaft, broker and
 * controller in one process); check_kafka_nodes checks them together. */
static const struct key_spec kafka_node_keys[] = {
	KEY(kafka_node_cfg, "address", V_ADDRESS, address, true, NULL,
	    "The host that runs this node: its listeners bind and advertise this address, the "
	    "clients' on `port`, the controller's on `port`+1; the agent whose host has it "
	    "(see [agent] `address`) installs and runs the node. One node a host."),
	{ "id", V_INT, offsetof(struct kafka_node_cfg, id), true, NULL, NULL, 0, 1, 2147483647,
	  "The node.id, unique in the cluster; controller.quorum.voters is every node's "
	  "id@address:port+1." },
	KEY(kafka_node_cfg, "port", V_PORT, port, false, "9092",
	    "The port of the node's listener for clients and the other brokers."),
	KEY(kafka_node_cfg, "rack", V_TOPIC_PART, rack, false, NULL,
	    "The node's broker.rack: Kafka spreads each partition's replicas over racks."),
};

struct section_spec {
	const char *kind;
	bool named;                 /* [source NAME] vs [kafka] */
	const struct key_spec *keys;
	size_t n_keys;
	size_t origin_offset;       /* of struct topo_origin in the section struct */
	const char *description;    /* for cdc-agent.ini(5), as a key's */
};

enum section_kind {
	SEC_AGENT,
	SEC_KAFKA,
	SEC_ZOOKEEPER,
	SEC_SOURCE,
	SEC_TARGET,
	SEC_PIPELINE,
	SEC_KAFKA_NODE
};

#define SECTION(kind, named, st, keys, desc) \
	{ kind, named, keys, ARRAY_LEN(keys), offsetof(struct st, origin), desc }

static const struct section_spec section_specs[] = {
	[SEC_AGENT] = SECTION("agent", false, agent_cfg, agent_keys,
			      "The agent on this host: its directories, whether it manages systemd "
			      "units, and the pace and status endpoint of `cdc-agent run`."),
	[SEC_KAFKA] = SECTION("kafka", false, kafka_cfg, kafka_keys,
			      "The Kafka cluster: the broker the agent installs and runs, or a "
			      "cluster of your own (`managed` = false); the topics the agent "
			      "creates; how every client connects."),
	[SEC_ZOOKEEPER] = SECTION("zookeeper", false, zookeeper_cfg, zookeeper_keys,
				  "The ZooKeeper the agent runs for a broker it installs in [kafka] "
				  "mode zookeeper; refused under [kafka] managed = false."),
	[SEC_SOURCE] = SECTION("source", true, source_cfg, source_keys,
			       "A PostgreSQL database whose tables are captured: how the pipeline's "
			       "role and an administrator reach it, what bootstrap sets there, and "
			       "the shape of the events capture writes. A [pipeline] names it by "
			       "NAME."),
	[SEC_TARGET] = SECTION("target", true, target_cfg, target_keys,
			       "A PostgreSQL database apply writes into: how the pipeline's role and "
			       "an administrator reach it, and how apply creates and changes its "
			       "tables. A [pipeline] names it by NAME."),
	[SEC_PIPELINE] = SECTION("pipeline", true, pipeline_cfg, pipeline_keys,
				 "One replication, a [source]'s tables through Kafka into a "
				 "[target]: `cdc-agent capture NAME` and `cdc-agent apply NAME`, run "
				 "as the units cdc-capture@NAME and cdc-apply@NAME."),
	[SEC_KAFKA_NODE] = SECTION("kafka_node", true, kafka_node_cfg, kafka_node_keys,
				   "A node of a Kafka cluster across hosts that the agent runs "
				   "([kafka] mode kraft, `dist`): a broker and controller in one "
				   "process on the host of `address`. With these sections each "
				   "host's agent converges only its own part: its node, and the "
				   "captures and applies whose `capture_address` or "
				   "`apply_address` it is. None: the single broker of this host."),
};

bool topology_schema_section(size_t i, struct topo_schema_section *out)
{
	if (i >= ARRAY_LEN(section_specs))
		return false;
	*out = (struct topo_schema_section){
		.kind = section_specs[i].kind,
		.named = section_specs[i].named,
		.description = section_specs[i].description,
		.keys = section_specs[i].keys,
		.n_keys = section_specs[i].n_keys,
	};
	return true;
}

_Static_assert(ARRAY_LEN(source_keys) <= TOPO_MAX_KEYS, "raise TOPO_MAX_KEYS");
_Static_assert(ARRAY_LEN(target_keys) <= TOPO_MAX_KEYS, "raise TOPO_MAX_KEYS");

/* ---- reading lines ---------------------------------------------------- */

/*
 * The file is read line by line as inih reads it (comments start a line
 * with ';' or '#'; ';' after white space starts an inline comment; key =
 * value or key: value; an indented line continues the value of the key
 * before it), without inih's 199-byte line buffer: a `tables` list can be
 * as long as a database's table list, on as many lines as it needs.
 */

struct raw_key {
	char *key;
	char *value;             /* continuation lines joined with '\n' */
	int line;
	int *cont_lines;         /* the line of each continuation */
	bool *cont_assigns;      /* it looks like `key = value` itself */
	size_t n_cont;
};

struct raw_section {
	char *header;            /* text between the brackets; "" before any header */
	int line;
	struct raw_key *keys;
	size_t n_keys;
};

/* A file of a [source] or [target] (password, certificate, key) that does
 * not exist: an error only if this host captures from or applies into
 * that server (a cluster across hosts keeps each server's files on its
 * capture's or apply's host); checked once the host is known. */
struct missing_file {
	int kind;                /* SEC_SOURCE or SEC_TARGET */
	size_t index;            /* in topo->sources or topo->targets */
	const struct key_spec *key;
	char *path;
	int line;
};

struct parse_state {
	const char *path;
	FILE *file;
	int line;                /* the line being read */
	int errors;
	struct raw_section *sections;
	size_t n_sections;
	int kind;                /* of the section being filled; -1: none */
	size_t index;            /* its index among its kind's (named sections) */
	struct missing_file *missing;
	size_t n_missing;
};

static void parse_error(struct parse_state *ps, int line, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

static void parse_error(struct parse_state *ps, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_error_at(ps->path, line, "%s", msg);
	free(msg);
	ps->errors++;
}

static struct raw_section *add_raw_section(struct parse_state *ps, const char *header, int line)
{
	struct raw_section *sec;

	ps->sections = xrealloc(ps->sections, (ps->n_sections + 1) * sizeof(*ps->sections));
	sec = &ps->sections[ps->n_sections++];
	sec->header = xstrdup(header);
	sec->line = line;
	sec->keys = NULL;
	sec->n_keys = 0;
	return sec;
}

/* Cuts an inline comment (';' after white space, outside double quotes:
 * a quoted table name may hold " ;"). */
static void cut_inline_comment(char *s)
{
	bool quoted = false;

	for (char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ';' && p > s && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

/* Whether text has '=' outside double quotes: an indented `key = value`. */
static bool looks_like_assignment(const char *text)
{
	bool quoted = false;

	for (const char *p = text; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '=')
			return true;
	}
	return false;
}

static void add_raw_key(struct parse_state *ps, const char *key, const char *value)
{
	struct raw_section *sec;
	struct raw_key *rk;

	if (ps->n_sections == 0)
		add_raw_section(ps, "", 0);
	sec = &ps->sections[ps->n_sections - 1];
	sec->keys = xrealloc(sec->keys, (sec->n_keys + 1) * sizeof(*sec->keys));
	rk = &sec->keys[sec->n_keys++];
	memset(rk, 0, sizeof(*rk));
	rk->key = xstrdup(key);
	rk->value = xstrdup(value);
	rk->line = ps->line;
}

static void add_continuation(struct parse_state *ps, char *text)
{
	struct raw_section *sec = &ps->sections[ps->n_sections - 1];
	struct raw_key *rk = &sec->keys[sec->n_keys - 1];
	char *joined;

	cut_inline_comment(text);
	text = str_trim(text);
	joined = xasprintf("%s\n%s", rk->value, text);
	free(rk->value);
	rk->value = joined;
	rk->cont_lines = xrealloc(rk->cont_lines, (rk->n_cont + 1) * sizeof(int));
	rk->cont_assigns = xrealloc(rk->cont_assigns, (rk->n_cont + 1) * sizeof(bool));
	rk->cont_lines[rk->n_cont] = ps->line;
	rk->cont_assigns[rk->n_cont] = looks_like_assignment(text);
	rk->n_cont++;
}

static void read_line(struct parse_state *ps, char *text, bool *continues)
{
	bool indented;
	char *s, *delim;

	if (ps->line == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3;
	indented = text[0] == ' ' || text[0] == '\t';
	s = str_trim(text);
	if (s[0] == '\0' || s[0] == ';' || s[0] == '#')
		return; /* comments and blank lines do not end a value */
	if (indented && *continues) {
		add_continuation(ps, s);
		return;
	}
	*continues = false;
	if (s[0] == '[') {
		char *end = strchr(s, ']');

		if (!end) {
			parse_error(ps, ps->line, "section header without a closing ']'");
		} else {
			*end = '\0';
			add_raw_section(ps, s + 1, ps->line);
		}
		return;
	}
	delim = s + strcspn(s, "=:");
	if (!*delim || delim == s) {
		parse_error(ps, ps->line, "expected 'key = value', found '%s'", s);
		return;
	}
	*delim = '\0';
	cut_inline_comment(delim + 1);
	add_raw_key(ps, str_trim(s), str_trim(delim + 1));
	*continues = true;
}

/* Reads the whole file into ps->sections; lines of any length. */
static void read_file(struct parse_state *ps)
{
	char *buf = NULL;
	size_t cap = 0;
	bool continues = false;

	while (getline(&buf, &cap, ps->file) >= 0) {
		ps->line++;
		read_line(ps, buf, &continues);
	}
	free(buf);
}

static void raw_sections_free(struct parse_state *ps)
{
	for (size_t i = 0; i < ps->n_sections; i++) {
		for (size_t k = 0; k < ps->sections[i].n_keys; k++) {
			free(ps->sections[i].keys[k].key);
			free(ps->sections[i].keys[k].value);
			free(ps->sections[i].keys[k].cont_lines);
			free(ps->sections[i].keys[k].cont_assigns);
		}
		free(ps->sections[i].keys);
		free(ps->sections[i].header);
	}
	free(ps->sections);
}

/* ---- building the typed topology --------------------------------------- */

/* Appends " (did you mean 'x'?)" when a candidate is close to word. */
static void suggest(struct strbuf *sb, const char *word, const char *const *candidates,
		    size_t n)
{
	const char *best = NULL;
	size_t best_distance = (size_t)-1;

	for (size_t i = 0; i < n; i++) {
		size_t d = str_edit_distance(word, candidates[i]);

		if (d < best_distance) {
			best_distance = d;
			best = candidates[i];
		}
	}
	if (best && best_distance <= 2 + strlen(word) / 5 && best_distance < strlen(word))
		strbuf_addf(sb, " (did you mean '%s'?)", best);
}

static const struct key_spec *find_key(const struct section_spec *spec, const char *key,
				       size_t *index)
{
	for (size_t i = 0; i < spec->n_keys; i++) {
		if (strcmp(spec->keys[i].name, key) == 0) {
			*index = i;
			return &spec->keys[i];
		}
	}
	return NULL;
}

static void report_unknown_key(struct parse_state *ps, const struct section_spec *spec,
			       const char *header, const struct raw_key *rk)
{
	const char *names[TOPO_MAX_KEYS];
	struct strbuf sb;

	for (size_t i = 0; i < spec->n_keys; i++)
		names[i] = spec->keys[i].name;
	strbuf_init(&sb);
	strbuf_addf(&sb, "unknown key '%s' in [%s]", rk->key, header);
	suggest(&sb, rk->key, names, spec->n_keys);
	parse_error(ps, rk->line, "%s", sb.data);
	strbuf_fini(&sb);
}

/* The file's line of the value's line that follows newlines line breaks. */
static int raw_key_line(const struct raw_key *rk, int newlines)
{
	return newlines <= 0 || (size_t)newlines > rk->n_cont ? rk->line
							       : rk->cont_lines[newlines - 1];
}

/* Each table's own line, from its line break count. */
static void specs_place(const struct raw_key *rk, struct table_specs *specs)
{
	for (size_t i = 0; i < specs->n; i++)
		specs->items[i].line = raw_key_line(rk, specs->items[i].line);
}

/* Lists (tables, hosts, CIDRs) may go on over indented lines; no other
 * value may, and an indented `key = value` is a mistake either way. */
static bool continuation_ok(struct parse_state *ps, const struct key_spec *key,
			    const struct raw_key *rk)
{
	bool list = key->type == V_TABLES || key->type == V_HOSTPORTS || key->type == V_CIDRS;

	for (size_t i = 0; i < rk->n_cont; i++) {
		if (list && !rk->cont_assigns[i])
			continue;
		parse_error(ps, rk->cont_lines[i],
			    "line starts with white space, which continues the previous value of '%s'; remove the indentation",
			    rk->key);
		return false;
	}
	return true;
}

/* A [source]/[target] file key naming a file that does not exist: kept,
 * its check deferred to missing_files_check. */
static bool missing_file_defer(struct parse_state *ps, const struct key_spec *key,
			       const struct raw_key *rk, void *field)
{
	struct strbuf err;
	struct stat st;
	struct missing_file *m;
	bool safe;

	if ((ps->kind != SEC_SOURCE && ps->kind != SEC_TARGET) ||
	    (key->type != V_SECRET_FILE && key->type != V_CERT_FILE && key->type != V_KEY_FILE))
		return false;
	strbuf_init(&err);
	safe = safe_path_valid(rk->value, &err);
	strbuf_fini(&err);
	if (!safe || lstat(rk->value, &st) == 0 || errno != ENOENT)
		return false;
	free(*(char **)field);
	*(char **)field = xstrdup(rk->value);
	ps->missing = xrealloc(ps->missing, (ps->n_missing + 1) * sizeof(*ps->missing));
	m = &ps->missing[ps->n_missing++];
	*m = (struct missing_file){ ps->kind, ps->index, key, xstrdup(rk->value), rk->line };
	return true;
}

/* Fills one section struct at base from its raw keys and the defaults. */
static void fill_section(struct parse_state *ps, const struct section_spec *spec,
			 const struct raw_section *raw, void *base)
{
	struct topo_origin *origin = (struct topo_origin *)((char *)base + spec->origin_offset);
	struct strbuf err;

	origin->file = ps->path;
	origin->line = raw ? raw->line : 0;
	strbuf_init(&err);
	for (size_t k = 0; raw && k < raw->n_keys; k++) {
		const struct raw_key *rk = &raw->keys[k];
		const struct key_spec *key;
		size_t idx;

		key = find_key(spec, rk->key, &idx);
		if (!key) {
			report_unknown_key(ps, spec, raw->header, rk);
			continue;
		}
		if (origin->key_line[idx]) {
			parse_error(ps, rk->line, "key '%s' is set twice in [%s] (first at line %d)",
				    rk->key, raw->header, origin->key_line[idx]);
			continue;
		}
		origin->key_line[idx] = rk->line;
		if (!continuation_ok(ps, key, rk))
			continue;
		if (missing_file_defer(ps, key, rk, (char *)base + key->offset))
			continue;
		err.len = 0;
		if (!value_parse(key, rk->value, (char *)base + key->offset, &err))
			parse_error(ps, raw_key_line(rk, value_error_newlines()), "%s: %s", rk->key,
				    err.data);
		else if (key->type == V_TABLES)
			specs_place(rk, (struct table_specs *)((char *)base + key->offset));
	}
	for (size_t i = 0; i < spec->n_keys; i++) {
		const struct key_spec *key = &spec->keys[i];

		if (origin->key_line[i])
			continue;
		if (key->required) {
			parse_error(ps, origin->line, "[%s] lacks the required key '%s'",
				    raw ? raw->header : spec->kind, key->name);
		} else if (key->default_value) {
			err.len = 0;
			if (!value_parse(key, key->default_value, (char *)base + key->offset,
					 &err))
				parse_error(ps, origin->line, "default of %s: %s", key->name,
					    err.data);
		}
	}
	strbuf_fini(&err);
}

static void free_section(const struct section_spec *spec, void *base)
{
	for (size_t i = 0; i < spec->n_keys; i++)
		value_free(&spec->keys[i], (char *)base + spec->keys[i].offset);
}

/* Section names become systemd instance names and log prefixes. */
static bool section_name_valid(const char *name)
{
	if (!name[0] || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

/* Splits "source db1" into kind and name; returns the kind's index or -1. */
static int classify_header(struct parse_state *ps, const struct raw_section *raw, char **name)
{
	char *copy = xstrdup(raw->header), *save = NULL;
	char *kind = strtok_r(copy, " \t", &save);
	char *rest = kind ? strtok_r(NULL, " \t", &save) : NULL;
	char *extra = rest ? strtok_r(NULL, " \t", &save) : NULL;
	int found = -1;

	*name = NULL;
	for (size_t i = 0; kind && i < ARRAY_LEN(section_specs); i++)
		if (strcmp(kind, section_specs[i].kind) == 0)
			found = (int)i;
	if (found < 0) {
		const char *kinds[ARRAY_LEN(section_specs)];
		struct strbuf sb;

		for (size_t i = 0; i < ARRAY_LEN(section_specs); i++)
			kinds[i] = section_specs[i].kind;
		strbuf_init(&sb);
		strbuf_addf(&sb, "unknown section [%s]", raw->header);
		if (kind)
			suggest(&sb, kind, kinds, ARRAY_LEN(kinds));
		strbuf_adds(&sb, "; sections are [agent], [kafka], [zookeeper], [source NAME], [target NAME], [pipeline NAME], [kafka_node NAME]");
		parse_error(ps, raw->line, "%s", sb.data);
		strbuf_fini(&sb);
	} else if (section_specs[found].named && !rest) {
		parse_error(ps, raw->line, "section [%s] needs a name, e.g. [%s db1]", kind, kind);
		found = -1;
	} else if (section_specs[found].named && (extra || !section_name_valid(rest))) {
		parse_error(ps, raw->line,
			    "section name '%s' may use only letters, digits, '_', '-' and '.' (at most 64)",
			    raw->header + (rest - copy));
		found = -1;
	} else if (!section_specs[found].named && rest) {
		parse_error(ps, raw->line, "section [%s] takes no name", kind);
		found = -1;
	} else if (rest) {
		*name = xstrdup(rest);
	}
	free(copy);
	return found;
}

/* Appends a zeroed element to a section array, returning it. */
static void *grow_array(void **array, size_t *n, size_t elem_size)
{
	char *p;

	*array = xrealloc(*array, (*n + 1) * elem_size);
	p = (char *)*array + *n * elem_size;
	memset(p, 0, elem_size);
	(*n)++;
	return p;
}

static void *add_named(struct topology *topo, int kind, char *name)
{
	switch (kind) {
	case SEC_SOURCE: {
		struct source_cfg *s = grow_array((void **)&topo->sources, &topo->n_sources,
						  sizeof(*s));
		s->name = name;
		return s;
	}
	case SEC_TARGET: {
		struct target_cfg *t = grow_array((void **)&topo->targets, &topo->n_targets,
						  sizeof(*t));
		t->name = name;
		return t;
	}
	case SEC_KAFKA_NODE: {
		struct kafka_node_cfg *n = grow_array((void **)&topo->kafka_nodes,
						      &topo->n_kafka_nodes, sizeof(*n));
		n->name = name;
		return n;
	}
	default: {
		struct pipeline_cfg *p = grow_array((void **)&topo->pipelines,
						    &topo->n_pipelines, sizeof(*p));
		p->name = name;
		return p;
	}
	}
}

static void *singleton(struct topology *topo, int kind)
{
	switch (kind) {
	case SEC_AGENT:
		return &topo->agent;
	case SEC_KAFKA:
		return &topo->kafka;
	default:
		return &topo->zookeeper;
	}
}

/* Returns the line of an earlier section with the same header, or 0. */
static int earlier_duplicate(const struct parse_state *ps, size_t i, int kind, const char *name)
{
	for (size_t j = 0; j < i; j++) {
		const struct raw_section *other = &ps->sections[j];
		char *copy = xstrdup(other->header), *save = NULL;
		char *k = strtok_r(copy, " \t", &save);
		char *n = k ? strtok_r(NULL, " \t", &save) : NULL;
		bool same = k && strcmp(k, section_specs[kind].kind) == 0 &&
			    ((!n && !name) || (n && name && strcmp(n, name) == 0));

		free(copy);
		if (same)
			return other->line;
	}
	return 0;
}

static void build_sections(struct parse_state *ps, struct topology *topo)
{
	const struct raw_section *singles[SEC_ZOOKEEPER + 1] = { 0 };

	for (size_t i = 0; i < ps->n_sections; i++) {
		const struct raw_section *raw = &ps->sections[i];
		char *name;
		int kind, dup_line;

		if (raw->line == 0) {
			parse_error(ps, raw->keys[0].line,
				    "key '%s' comes before any [section] header", raw->keys[0].key);
			continue;
		}
		kind = classify_header(ps, raw, &name);
		if (kind < 0)
			continue;
		dup_line = earlier_duplicate(ps, i, kind, name);
		if (dup_line) {
			parse_error(ps, raw->line, "duplicate section [%s] (first at line %d)",
				    raw->header, dup_line);
			free(name);
			continue;
		}
		if (section_specs[kind].named) {
			void *base = add_named(topo, kind, name);

			ps->kind = kind;
			ps->index = kind == SEC_SOURCE ? topo->n_sources - 1
				    : kind == SEC_TARGET ? topo->n_targets - 1 : 0;
			fill_section(ps, &section_specs[kind], raw, base);
			ps->kind = -1;
		} else {
			singles[kind] = raw;
		}
	}
	/* Singletons are optional: absent ones still get their defaults. */
	for (int kind = SEC_AGENT; kind <= SEC_ZOOKEEPER; kind++)
		fill_section(ps, &section_specs[kind], singles[kind], singleton(topo, kind));
}

/* ---- cross-section checks --------------------------------------------- */

char *topology_topic(const struct source_cfg *src, const struct table_ref *t)
{
	return kafka_topic_name(src->topic_prefix, t->schema, t->table);
}

char *topology_transaction_topic(const struct source_cfg *src)
{
	return src->transaction_metadata ? xasprintf("%s.transaction", src->topic_prefix) : NULL;
}

char *topology_topic_key(const char *topic)
{
	char *key = xstrdup(topic);

	for (char *p = key; *p; p++)
		if (*p == '.')
			*p = '_';
	return key;
}

void table_list_fini(struct table_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].schema);
		free(list->items[i].table);
	}
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

void topology_section_text(const char *kind, const char *name, const void *section,
			   struct strbuf *out)
{
	for (size_t s = 0; s < ARRAY_LEN(section_specs); s++) {
		const struct section_spec *spec = &section_specs[s];

		if (strcmp(spec->kind, kind) != 0)
			continue;
		strbuf_addf(out, "[%s%s%s]\n", kind, name ? " " : "", name ? name : "");
		for (size_t k = 0; k < spec->n_keys; k++) {
			strbuf_addf(out, "%s=", spec->keys[k].name);
			value_text(&spec->keys[k], (const char *)section + spec->keys[k].offset, out);
			strbuf_adds(out, "\n");
		}
	}
}

int topology_key_line(const struct topo_origin *origin, const char *section_kind,
		      const char *key)
{
	for (size_t s = 0; s < ARRAY_LEN(section_specs); s++) {
		size_t idx;

		if (strcmp(section_specs[s].kind, section_kind) != 0)
			continue;
		if (find_key(&section_specs[s], key, &idx) && origin->key_line[idx])
			return origin->key_line[idx];
	}
	return origin->line;
}

bool topology_same_server(const struct pg_server_cfg *a, const struct pg_server_cfg *b)
{
	return a->host && b->host && strcmp(a->host, b->host) == 0 && a->port == b->port;
}

/* consistency = transaction reassembles transactions from the source's
 * transaction topic: without transaction_metadata there is none.  Written
 * in the file, that is an error; the default then falls back to table. */
static void check_consistency(struct parse_state *ps, struct pipeline_cfg *p)
{
	int line = topology_key_line(&p->origin, "pipeline", "consistency");

	if (!p->source || p->source->transaction_metadata ||
	    p->consistency != CONSISTENCY_TRANSACTION)
		return;
	if (line == p->origin.line) {
		p->consistency = CONSISTENCY_TABLE; /* unset */
		return;
	}
	parse_error(ps, line,
		    "pipeline %s: consistency = transaction needs source %s's transaction_metadata = true (%s:%d sets it false): set one or the other",
		    p->name, p->source->name, p->source->origin.file,
		    topology_key_line(&p->source->origin, "source", "transaction_metadata"));
}

static void resolve_pipeline(struct parse_state *ps, struct topology *topo,
			     struct pipeline_cfg *p)
{
	const char **names;
	struct strbuf sb;

	if (!p->source_name || !p->target_name)
		return; /* missing keys already reported */
	for (size_t i = 0; i < topo->n_sources; i++)
		if (strcmp(topo->sources[i].name, p->source_name) == 0)
			p->source = &topo->sources[i];
	for (size_t i = 0; i < topo->n_targets; i++)
		if (strcmp(topo->targets[i].name, p->target_name) == 0)
			p->target = &topo->targets[i];
	strbuf_init(&sb);
	if (!p->source) {
		names = xcalloc(topo->n_sources, sizeof(char *));
		for (size_t i = 0; i < topo->n_sources; i++)
			names[i] = topo->sources[i].name;
		strbuf_addf(&sb, "pipeline %s: source '%s' is not defined by any [source %s]",
			    p->name, p->source_name, p->source_name);
		suggest(&sb, p->source_name, names, topo->n_sources);
		parse_error(ps, topology_key_line(&p->origin, "pipeline", "source"), "%s", sb.data);
		free(names);
		sb.len = 0;
	}
	if (!p->target) {
		names = xcalloc(topo->n_targets, sizeof(char *));
		for (size_t i = 0; i < topo->n_targets; i++)
			names[i] = topo->targets[i].name;
		strbuf_addf(&sb, "pipeline %s: target '%s' is not defined by any [target %s]",
			    p->name, p->target_name, p->target_name);
		suggest(&sb, p->target_name, names, topo->n_targets);
		parse_error(ps, topology_key_line(&p->origin, "pipeline", "target"), "%s", sb.data);
		free(names);
	}
	strbuf_fini(&sb);
	check_consistency(ps, p);
	if (p->source && p->target && topology_same_server(&p->source->pg, &p->target->pg) &&
	    p->source->pg.dbname && p->target->pg.dbname &&
	    strcmp(p->source->pg.dbname, p->target->pg.dbname) == 0)
		parse_error(ps, p->origin.line,
			    "pipeline %s would replicate database %s into itself", p->name,
			    p->source->pg.dbname);
}

/* Kafka refuses longer topic names. */
#define TOPIC_NAME_MAX 249

/* The names written in `tables` (not the patterns): excluded by none of
 * its exclusions, each with a topic of its own that Kafka accepts.  With
 * no pattern, they are the source's tables (tables_static). */
static void check_table_specs(struct parse_state *ps, struct source_cfg *s)
{
	const struct table_specs *specs = &s->table_specs;
	struct strmap topics = { 0 };
	bool any_pattern = false, any_included = false;

	for (size_t i = 0; i < specs->n; i++) {
		const struct table_spec *t = &specs->items[i];
		struct table_ref ref = { t->schema, t->table };
		char *name, *topic, *key;
		size_t other;

		/* exclusions only ever remove what a pattern matched */
		any_pattern = any_pattern || (!t->exclude && (t->schema_glob || t->table_glob));
		if (t->exclude || t->schema_glob || t->table_glob) {
			any_included = any_included || !t->exclude;
			continue;
		}
		any_included = true;
		name = table_ref_text(&ref);
		for (size_t j = 0; j < specs->n; j++)
			if (specs->items[j].exclude && table_spec_matches(&specs->items[j], t->schema, t->table))
				parse_error(ps, t->line,
					    "tables: table %s is listed, and excluded by the exclusion on line %d: remove one of them",
					    name, specs->items[j].line);
		topic = topology_topic(s, &ref);
		if (strlen(topic) > TOPIC_NAME_MAX)
			parse_error(ps, t->line,
				    "tables: the topic of table %s, %s, is longer than Kafka's %d characters",
				    name, topic, TOPIC_NAME_MAX);
		key = topology_topic_key(topic);
		if (strmap_get(&topics, key, strlen(key), &other)) {
			struct table_ref oref = { specs->items[other].schema, specs->items[other].table };
			char *oname = table_ref_text(&oref), *otopic = topology_topic(s, &oref);

			if (strcmp(otopic, topic) == 0)
				parse_error(ps, t->line,
					    "tables: tables %s and %s would both go to Kafka topic %s (characters outside a-z A-Z 0-9 . _ - become '_', as Debezium names topics): replicate one of them through another [source] with its own topic_prefix, or rename it",
					    oname, name, topic);
			else
				parse_error(ps, t->line,
					    "tables: the topics of tables %s and %s, %s and %s, collide in Kafka ('.' and '_' are the same to it): replicate one of them through another [source] with its own topic_prefix, or rename it",
					    oname, name, otopic, topic);
			free(otopic);
			free(oname);
		} else {
			strmap_put(&topics, key, strlen(key), i);
		}
		free(key);
		free(topic);
		free(name);
	}
	if (specs->n > 0 && !any_included)
		parse_error(ps, topology_key_line(&s->origin, "source", "tables"),
			    "tables: only exclusions ('!') are listed: name the tables or patterns to replicate");
	strmap_fini(&topics);
	s->tables_static = !any_pattern;
	if (s->tables_static) {
		s->tables.items = xcalloc(specs->n, sizeof(struct table_ref));
		for (size_t i = 0; i < specs->n; i++) {
			if (specs->items[i].exclude)
				continue;
			s->tables.items[s->tables.n].schema = xstrdup(specs->items[i].schema);
			s->tables.items[s->tables.n].table = xstrdup(specs->items[i].table);
			s->tables.n++;
		}
		s->tables_resolved = true;
	}
}

/* decimal_handling unset: Debezium's own default, "precise" (base64 bytes,
 * the scale in the schema block), when the events carry the schema block:
 * Debezium's JDBC sink needs it (a decimal as a string schema reaches a
 * numeric column as varchar and the sink stops).  Without the schema block
 * the bytes alone lose the scale, so there "string" stays the default. */
static void decimal_default(struct source_cfg *s)
{
	if (topology_key_line(&s->origin, "source", "decimal_handling") != s->origin.line)
		return; /* set in the file */
	s->decimal_handling = s->json_schemas ? DECIMAL_PRECISE : DECIMAL_STRING;
}

/* A source's transaction topic is no other source's table topic: with
 * dotted prefixes, "a.b" + ".transaction" is source "a"'s table
 * b.transaction (its own tables cannot collide with it: theirs has two more
 * dots, and "transaction" no '_').  Tables named in `tables`; those of
 * patterns are known only at start. */
static void check_transaction_topic(struct parse_state *ps, const struct topology *topo,
				    const struct source_cfg *s)
{
	char *topic = topology_transaction_topic(s);
	char *key = topic ? topology_topic_key(topic) : NULL;

	for (size_t j = 0; key && j < topo->n_sources; j++) {
		const struct source_cfg *o = &topo->sources[j];

		for (size_t t = 0; o != s && t < o->tables.n; t++) {
			char *other = topology_topic(o, &o->tables.items[t]);
			char *okey = topology_topic_key(other);

			if (strcmp(okey, key) == 0)
				parse_error(ps, topology_key_line(&s->origin, "source", "topic_prefix"),
					    "source %s's transaction topic %s collides with the topic %s of source %s's table %s.%s: change a topic_prefix, or set transaction_metadata = false",
					    s->name, topic, other, o->name, o->tables.items[t].schema,
					    o->tables.items[t].table);
			free(okey);
			free(other);
		}
	}
	free(key);
	free(topic);
}

static void check_sources(struct parse_state *ps, struct topology *topo)
{
	for (size_t i = 0; i < topo->n_sources; i++) {
		struct source_cfg *s = &topo->sources[i];

		if (!s->topic_prefix)
			s->topic_prefix = xstrdup(s->name);
		check_table_specs(ps, s);
		decimal_default(s);
		for (size_t j = 0; j < i; j++) {
			struct source_cfg *o = &topo->sources[j];

			if (s->slot && o->slot && strcmp(s->slot, o->slot) == 0 &&
			    topology_same_server(&s->pg, &o->pg))
				parse_error(ps, topology_key_line(&s->origin, "source", "slot"),
					    "source %s uses slot %s on %s:%d, as does source %s",
					    s->name, s->slot, s->pg.host, s->pg.port, o->name);
			if (s->max_slot_wal_keep_size >= 0 && o->max_slot_wal_keep_size >= 0 &&
			    s->max_slot_wal_keep_size != o->max_slot_wal_keep_size &&
			    topology_same_server(&s->pg, &o->pg))
				parse_error(ps,
					    topology_key_line(&s->origin, "source",
							      "max_slot_wal_keep_size"),
					    "source %s sets max_slot_wal_keep_size on %s:%d to another value than source %s: bootstrap would change it back and forth",
					    s->name, s->pg.host, s->pg.port, o->name);
			if (strcmp(s->topic_prefix, o->topic_prefix) == 0)
				parse_error(ps,
					    topology_key_line(&s->origin, "source", "topic_prefix"),
					    "source %s uses topic prefix %s, as does source %s: their topics would mix",
					    s->name, s->topic_prefix, o->name);
		}
	}
	for (size_t i = 0; i < topo->n_sources; i++)
		check_transaction_topic(ps, topo, &topo->sources[i]);
}

bool pg_server_tls_required(const struct pg_server_cfg *server)
{
	return server->sslmode == PG_SSLMODE_REQUIRE || server->sslmode == PG_SSLMODE_VERIFY_CA ||
	       server->sslmode == PG_SSLMODE_VERIFY_FULL;
}

/* A [source]/[target]'s TLS keys as a whole: a client certificate comes
 * with its key, and a verifying sslmode names the CA it verifies with (not
 * libpq's fallback, ~/.postgresql/root.crt of whichever user runs it). */
static void check_pg_tls(struct parse_state *ps, const char *kind,
			 const char *name, const struct topo_origin *origin,
			 const struct pg_server_cfg *pg)
{
	if (pg->sslcert && !pg->sslkey)
		parse_error(ps, topology_key_line(origin, kind, "sslcert"),
			    "%s %s: sslcert needs sslkey, the client certificate's private key",
			    kind, name);
	if (pg->sslkey && !pg->sslcert)
		parse_error(ps, topology_key_line(origin, kind, "sslkey"),
			    "%s %s: sslkey needs sslcert, the client certificate it belongs to",
			    kind, name);
	if ((pg->sslmode == PG_SSLMODE_VERIFY_CA || pg->sslmode == PG_SSLMODE_VERIFY_FULL) &&
	    !pg->sslrootcert)
		parse_error(ps, topology_key_line(origin, kind, "sslmode"),
			    "%s %s: sslmode %s needs sslrootcert, the CA certificate that signed the server's certificate",
			    kind, name, pg_sslmode_names[pg->sslmode]);
}

static void check_servers_tls(struct parse_state *ps, const struct topology *topo)
{
	for (size_t i = 0; i < topo->n_sources; i++)
		check_pg_tls(ps, "source", topo->sources[i].name, &topo->sources[i].origin,
			     &topo->sources[i].pg);
	for (size_t i = 0; i < topo->n_targets; i++)
		check_pg_tls(ps, "target", topo->targets[i].name, &topo->targets[i].origin,
			     &topo->targets[i].pg);
}

const struct pipeline_cfg *topology_capture_pipeline(const struct topology *topo,
						       const struct pipeline_cfg *pipe)
{
	/* By name: the credentials are checked before pipelines resolve. */
	for (size_t i = 0; pipe->source_name && i < topo->n_pipelines; i++)
		if (topo->pipelines[i].source_name &&
		    strcmp(topo->pipelines[i].source_name, pipe->source_name) == 0)
			return &topo->pipelines[i];
	return pipe;
}

bool topology_captures(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	return topology_capture_pipeline(topo, pipe) == pipe;
}

/* Fan-out: one source may feed several pipelines (its first captures), but
 * two of them into one database would write the same tables. */
static void check_fan_out(struct parse_state *ps, struct topology *topo)
{
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];

		for (size_t j = 0; p->source && p->target && j < i; j++) {
			const struct pipeline_cfg *o = &topo->pipelines[j];

			if (o->source != p->source || !o->target)
				continue;
			if (o->target != p->target &&
			    !(topology_same_server(&o->target->pg, &p->target->pg) &&
			      p->target->pg.dbname && o->target->pg.dbname &&
			      strcmp(p->target->pg.dbname, o->target->pg.dbname) == 0))
				continue;
			parse_error(ps, topology_key_line(&p->origin, "pipeline", "target"),
				    "pipelines %s and %s both replicate source %s into database %s on %s:%d, where they would write the same tables: give %s another target",
				    o->name, p->name, p->source->name, p->target->pg.dbname,
				    p->target->pg.host, p->target->pg.port, p->name);
			break;
		}
	}
}

bool kafka_security_tls(enum kafka_security protocol)
{
	return protocol == KAFKA_SECURITY_SSL || protocol == KAFKA_SECURITY_SASL_SSL;
}

bool kafka_security_sasl(enum kafka_security protocol)
{
	return protocol == KAFKA_SECURITY_SASL_PLAINTEXT || protocol == KAFKA_SECURITY_SASL_SSL;
}

const struct kafka_credentials *topology_probe_credentials(const struct topology *topo,
							  const struct pipeline_cfg *pipe)
{
	if (pipe)
		return &pipe->apply_kafka;
	return topo->n_pipelines > 0 ? &topo->pipelines[0].capture_kafka : NULL;
}

/* Whether a [kafka] key was written in the file (not its default). */
static bool kafka_key_set(const struct kafka_cfg *k, const char *key)
{
	return topology_key_line(&k->origin, "kafka", key) != k->origin.line;
}

/* An ssl_*_file of [kafka] (its value type checked that it is readable,
 * the key that it is private): set only with a TLS protocol. */
static void check_kafka_file(struct parse_state *ps, const struct kafka_cfg *k, const char *key,
			     const char *path)
{
	if (path && !kafka_security_tls(k->security_protocol))
		parse_error(ps, topology_key_line(&k->origin, "kafka", key),
			    "%s needs security_protocol ssl or sasl_ssl (it is %s)", key,
			    kafka_security_names[k->security_protocol]);
}

/* A pipeline's credentials for one role: both keys or neither, and only
 * (and always) under a sasl_* protocol. */
static void check_kafka_credentials(struct parse_state *ps, const struct kafka_cfg *k,
				    const struct pipeline_cfg *p, const char *role,
				    const struct kafka_credentials *cred)
{
	char user_key[64], file_key[64];
	const char *protocol = kafka_security_names[k->security_protocol];

	snprintf(user_key, sizeof(user_key), "%s_kafka_user", role);
	snprintf(file_key, sizeof(file_key), "%s_kafka_password_file", role);
	if (!kafka_security_sasl(k->security_protocol)) {
		if (cred->user || cred->password_file)
			parse_error(ps,
				    topology_key_line(&p->origin, "pipeline",
						      cred->user ? user_key : file_key),
				    "pipeline %s: %s needs a sasl_* security_protocol in [kafka] (it is %s)",
				    p->name, cred->user ? user_key : file_key, protocol);
		return;
	}
	/* A value written but refused was reported as such already. */
	if (!cred->user && topology_key_line(&p->origin, "pipeline", user_key) == p->origin.line)
		parse_error(ps, p->origin.line,
			    "pipeline %s lacks %s: with [kafka] security_protocol %s, %s logs in to the brokers as a user of its own",
			    p->name, user_key, protocol, role);
	if (!cred->password_file &&
	    topology_key_line(&p->origin, "pipeline", file_key) == p->origin.line)
		parse_error(ps, p->origin.line,
			    "pipeline %s lacks %s: with [kafka] security_protocol %s, %s needs its user's password",
			    p->name, file_key, protocol, role);
	/* Missing, it is bootstrap's to generate (kafka_access.c), with the
	 * user it makes: only on the brokers the agent runs. */
	if (cred->password_file && !kafka_installed_secure(k) &&
	    access(cred->password_file, F_OK) != 0)
		parse_error(ps, topology_key_line(&p->origin, "pipeline", file_key),
			    "pipeline %s: %s %s does not exist (the agent makes users and their passwords only on the broker it installs, [kafka] dist with security_protocol sasl_ssl)",
			    p->name, file_key, cred->password_file);
}

/* A pipeline that does not capture (a later one of its source) has no
 * capture keys: they would be read by no process. */
static void check_no_capture_keys(struct parse_state *ps, const struct pipeline_cfg *p,
				  const struct pipeline_cfg *cap)
{
	static const char *const keys[] = { "capture_kafka_user", "capture_kafka_password_file" };

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		int line = topology_key_line(&p->origin, "pipeline", keys[i]);

		if (line != p->origin.line)
			parse_error(ps, line,
				    "pipeline %s: %s is for the pipeline that captures source %s, which is %s (the first of that source): remove it here",
				    p->name, keys[i], p->source_name, cap->name);
	}
}

/* The [kafka] keys that configure only the broker the agent installs and
 * runs: refused under managed = false, where they would be ignored. */
static const char *const kafka_managed_only_keys[] = {
	"mode", "dist", "sha512", "install_dir", "data_dir", "heap", "broker_cert_file", "broker_key_file"
};

/* managed = false: no broker of the agent's, so none of its keys and no
 * [zookeeper] section (a ZooKeeper the agent neither runs nor probes). */
static void check_kafka_managed(struct parse_state *ps, const struct topology *topo)
{
	const struct kafka_cfg *k = &topo->kafka;

	if (k->managed)
		return;
	for (size_t i = 0; i < ARRAY_LEN(kafka_managed_only_keys); i++)
		if (kafka_key_set(k, kafka_managed_only_keys[i]))
			parse_error(ps, topology_key_line(&k->origin, "kafka",
							  kafka_managed_only_keys[i]),
				    "[kafka] %s is only for a Kafka the agent runs (managed = true); this one has managed = false",
				    kafka_managed_only_keys[i]);
	if (topo->zookeeper.origin.line)
		parse_error(ps, topo->zookeeper.origin.line,
			    "[zookeeper] is only for a Kafka the agent runs (managed = true); [kafka] has managed = false");
}

/* [kafka]'s security keys agree with each other and with every pipeline's
 * credentials. */
static void check_kafka_security(struct parse_state *ps, struct topology *topo)
{
	const struct kafka_cfg *k = &topo->kafka;

	if (kafka_key_set(k, "sasl_mechanism") && !kafka_security_sasl(k->security_protocol))
		parse_error(ps, topology_key_line(&k->origin, "kafka", "sasl_mechanism"),
			    "sasl_mechanism needs security_protocol sasl_plaintext or sasl_ssl (it is %s)",
			    kafka_security_names[k->security_protocol]);
	check_kafka_file(ps, k, "ssl_ca_file", k->ssl_ca_file);
	check_kafka_file(ps, k, "ssl_cert_file", k->ssl_cert_file);
	check_kafka_file(ps, k, "ssl_key_file", k->ssl_key_file);
	if (!k->ssl_cert_file != !k->ssl_key_file && kafka_key_set(k, "ssl_cert_file") !=
							    kafka_key_set(k, "ssl_key_file"))
		parse_error(ps,
			    topology_key_line(&k->origin, "kafka",
					      k->ssl_cert_file ? "ssl_cert_file" : "ssl_key_file"),
			    "%s without %s: a client certificate goes with its private key",
			    k->ssl_cert_file ? "ssl_cert_file" : "ssl_key_file",
			    k->ssl_cert_file ? "ssl_key_file" : "ssl_cert_file");
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		const struct pipeline_cfg *p = &topo->pipelines[i];
		const struct pipeline_cfg *cap = topology_capture_pipeline(topo, p);

		if (cap == p)
			check_kafka_credentials(ps, k, p, "capture", &p->capture_kafka);
		else
			check_no_capture_keys(ps, p, cap);
		check_kafka_credentials(ps, k, p, "apply", &p->apply_kafka);
	}
}

/* Whether a HOST:PORT (or [V6]:PORT) of [zookeeper] connect is on loopback. */
static bool topo_zookeeper_local(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');
	char *host = xstrndup(hostport, colon ? (size_t)(colon - hostport) : strlen(hostport));
	bool local = topo_host_is_local(host);

	free(host);
	return local;
}

bool kafka_installed(const struct kafka_cfg *k)
{
	return k->managed && k->dist != NULL;
}

bool kafka_installed_secure(const struct kafka_cfg *k)
{
	return kafka_installed(k) && k->security_protocol == KAFKA_SECURITY_SASL_SSL;
}

/* The broker the agent installs speaks plaintext (the seed's loopback
 * layout) or SASL_SSL with SCRAM-SHA-512 (templates/server.properties.*):
 * no other protocol, and under sasl_ssl a ZooKeeper on loopback (it has no
 * authentication here) and the broker's certificate, named or issued. */
static void check_kafka_installed_security(struct parse_state *ps, struct topology *topo)
{
	struct kafka_cfg *k = &topo->kafka;
	const char *zk = topo->zookeeper.connect.n ? topo->zookeeper.connect.items[0] : NULL;

	if ((k->broker_cert_file || k->broker_key_file) && !kafka_installed_secure(k))
		parse_error(ps,
			    topology_key_line(&k->origin, "kafka",
					      k->broker_cert_file ? "broker_cert_file" : "broker_key_file"),
			    "%s is the certificate of the broker the agent installs under security_protocol sasl_ssl (this topology has %s%s)",
			    k->broker_cert_file ? "broker_cert_file" : "broker_key_file",
			    kafka_security_names[k->security_protocol],
			    kafka_installed(k) ? "" : " and no [kafka] dist");
	if (!kafka_installed(k))
		return;
	if (k->security_protocol != KAFKA_SECURITY_PLAINTEXT &&
	    k->security_protocol != KAFKA_SECURITY_SASL_SSL)
		parse_error(ps, topology_key_line(&k->origin, "kafka", "security_protocol"),
			    "security_protocol %s: the broker [kafka] dist installs listens with plaintext (loopback) or sasl_ssl; secure a cluster of another kind yourself (managed = false)",
			    kafka_security_names[k->security_protocol]);
	if (!kafka_installed_secure(k))
		return;
	if (k->sasl_mechanism != KAFKA_SASL_SCRAM_SHA_512)
		parse_error(ps, topology_key_line(&k->origin, "kafka", "sasl_mechanism"),
			    "sasl_mechanism %s: the broker [kafka] dist installs takes scram-sha-512 only",
			    kafka_sasl_mechanism_names[k->sasl_mechanism]);
	if (!k->broker_cert_file != !k->broker_key_file)
		parse_error(ps,
			    topology_key_line(&k->origin, "kafka",
					      k->broker_cert_file ? "broker_cert_file" : "broker_key_file"),
			    "%s without %s: the broker's certificate goes with its private key",
			    k->broker_cert_file ? "broker_cert_file" : "broker_key_file",
			    k->broker_cert_file ? "broker_key_file" : "broker_cert_file");
	if (k->mode == KAFKA_MODE_ZOOKEEPER && zk && !topo_zookeeper_local(zk))
		parse_error(ps, topology_key_line(&topo->zookeeper.origin, "zookeeper", "connect"),
			    "[zookeeper] connect %s: with security_protocol sasl_ssl ZooKeeper must listen on loopback (it has no authentication here, and whoever reaches it can give themselves any Kafka right)",
			    zk);
	if (!k->broker_cert_file && !k->broker_key_file) {
		if (k->ssl_ca_file)
			parse_error(ps, topology_key_line(&k->origin, "kafka", "ssl_ca_file"),
				    "ssl_ca_file with no broker_cert_file: the agent issues the broker's certificate from its own CA, which the clients trust (%s/%s/ca.pem); leave ssl_ca_file unset, or name broker_cert_file and broker_key_file",
				    topo->agent.config_dir, KAFKA_TLS_DIR_NAME);
		else if (topo->agent.config_dir) {
			k->ssl_ca_file =
				xasprintf("%s/%s/ca.pem", topo->agent.config_dir, KAFKA_TLS_DIR_NAME);
			k->broker_tls_generated = true;
		}
	}
}

/* ---- a Kafka cluster across hosts (issue #19) -------------------------- */

bool topology_is_cluster(const struct topology *topo)
{
	return topo->n_kafka_nodes > 0;
}

/* Whether a and b name one host: equal as IP addresses, or as host names
 * (case aside). */
static bool address_equal(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	return strcasecmp(a, b) == 0;
}

bool topology_is_self(const struct topology *topo, const char *address)
{
	for (size_t i = 0; address && i < topo->self.n; i++)
		if (address_equal(topo->self.items[i], address))
			return true;
	return false;
}

/* The host's own names: [agent] address alone when set, else every
 * interface address and the host name (short and as set). */
static void self_from_host(struct topology *topo)
{
	char name[256];

	if (topo->agent.address) {
		strlist_add(&topo->self, topo->agent.address);
		return;
	}
	if (!host_addresses(&topo->self))
		log_warn("cannot list this host's interface addresses (%s): set [agent] address",
			 strerror(errno));
	if (gethostname(name, sizeof(name)) == 0) {
		name[sizeof(name) - 1] = '\0';
		strlist_add(&topo->self, name);
		name[strcspn(name, ".")] = '\0';
		if (!strlist_contains(&topo->self, name))
			strlist_add(&topo->self, name);
	}
}

void topology_self_set(struct topology *topo, const char *const *addresses, size_t n)
{
	strlist_fini(&topo->self);
	if (!addresses) {
		self_from_host(topo);
		return;
	}
	for (size_t i = 0; i < n; i++)
		strlist_add(&topo->self, addresses[i]);
}

const struct kafka_node_cfg *topology_self_node(const struct topology *topo)
{
	for (size_t i = 0; i < topo->n_kafka_nodes; i++)
		if (topology_is_self(topo, topo->kafka_nodes[i].address))
			return &topo->kafka_nodes[i];
	return NULL;
}

bool topology_runs_kafka(const struct topology *topo)
{
	return kafka_installed(&topo->kafka) &&
	       (!topology_is_cluster(topo) || topology_self_node(topo) != NULL);
}

bool topology_source_here(const struct topology *topo, const struct source_cfg *src)
{
	return src && (!src->capture_address || topology_is_self(topo, src->capture_address));
}

bool topology_target_here(const struct topology *topo, const struct target_cfg *tgt)
{
	return tgt && (!tgt->apply_address || topology_is_self(topo, tgt->apply_address));
}

bool topology_runs_capture(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	return topology_captures(topo, pipe) && topology_source_here(topo, pipe->source);
}

bool topology_runs_apply(const struct topology *topo, const struct pipeline_cfg *pipe)
{
	return topology_target_here(topo, pipe->target);
}

char *topology_quorum_voters(const struct topology *topo, int single_controller_port)
{
	struct strbuf sb;

	if (!topology_is_cluster(topo))
		return xasprintf("1@127.0.0.1:%d", single_controller_port);
	strbuf_init(&sb);
	for (size_t i = 0; i < topo->n_kafka_nodes; i++) {
		const struct kafka_node_cfg *n = &topo->kafka_nodes[i];

		strbuf_addf(&sb, "%s%d@%s:%d", i ? "," : "", n->id, n->address, n->port + 1);
	}
	return strbuf_detach(&sb);
}

void topology_cluster_id(const struct topology *topo, char out[23])
{
	unsigned char digest[EVP_MAX_MD_SIZE], b64[32];
	unsigned int len = 0;
	struct strbuf sb;

	/* What makes the cluster: its nodes.  Every host derives the same id
	 * with no state of another host's; a node added makes another id,
	 * which a formatted node refuses (KRaft has no membership change in
	 * 3.9's static quorum anyway). */
	strbuf_init(&sb);
	strbuf_adds(&sb, "cdc-agent kraft cluster\n");
	for (size_t i = 0; i < topo->n_kafka_nodes; i++)
		strbuf_addf(&sb, "%d@%s:%d\n", topo->kafka_nodes[i].id,
			    topo->kafka_nodes[i].address, topo->kafka_nodes[i].port);
	EVP_Digest(sb.data, sb.len, digest, &len, EVP_sha256(), NULL);
	strbuf_fini(&sb);
	digest[6] = (unsigned char)((digest[6] & 0x0f) | 0x40); /* version 4, as Uuid.randomUuid */
	digest[8] = (unsigned char)((digest[8] & 0x3f) | 0x80);
	if ((digest[0] >> 2) == 62)
		digest[0] ^= 0x80; /* no leading '-': StorageTool would read an option */
	EVP_EncodeBlock(b64, digest, 16);
	for (int i = 0; i < 22; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[22] = '\0';
}

/* [kafka_node] sections: a KRaft cluster of the agent's, one node a host,
 * every capture and apply placed on a host; [kafka] bootstrap_servers,
 * unset, becomes every node's address:port. */
static void check_kafka_nodes(struct parse_state *ps, struct topology *topo)
{
	struct kafka_cfg *k = &topo->kafka;
	int first = topo->n_kafka_nodes ? topo->kafka_nodes[0].origin.line : 0;

	if (k->min_insync_replicas > k->replication_factor)
		parse_error(ps, topology_key_line(&k->origin, "kafka", "min_insync_replicas"),
			    "min_insync_replicas %d is more than replication_factor %d: no write could ever succeed",
			    k->min_insync_replicas, k->replication_factor);
	if (!topology_is_cluster(topo))
		return;
	if (k->mode != KAFKA_MODE_KRAFT)
		parse_error(ps, topology_key_line(&k->origin, "kafka", "mode"),
			    "[kafka_node] sections (line %d) make a KRaft cluster, each node broker and controller: set [kafka] mode = kraft",
			    first);
	if (!k->managed)
		parse_error(ps, first,
			    "[kafka_node] is a node the agent runs; [kafka] has managed = false: name the cluster's brokers in bootstrap_servers instead");
	else if (!k->dist)
		parse_error(ps, first,
			    "[kafka_node] needs [kafka] dist (and sha512): the agent installs Kafka on every node");
	if (k->security_protocol != KAFKA_SECURITY_PLAINTEXT)
		parse_error(ps, topology_key_line(&k->origin, "kafka", "security_protocol"),
			    "security_protocol %s: a cluster of [kafka_node]s speaks plaintext for now (a secured broker is the single one of a host)",
			    kafka_security_names[k->security_protocol]);
	if (topo->zookeeper.origin.line)
		parse_error(ps, topo->zookeeper.origin.line,
			    "[zookeeper] with [kafka_node] sections: the nodes are their own controllers (KRaft); remove it");
	for (size_t i = 0; i < topo->n_kafka_nodes; i++) {
		const struct kafka_node_cfg *n = &topo->kafka_nodes[i];

		if (n->address && strchr(n->address, ':'))
			parse_error(ps, topology_key_line(&n->origin, "kafka_node", "address"),
				    "kafka_node %s: address %s: IPv6 addresses are not supported for nodes yet; use an IPv4 address or a host name",
				    n->name, n->address);
		for (size_t j = 0; j < i; j++) {
			const struct kafka_node_cfg *o = &topo->kafka_nodes[j];

			if (n->id && n->id == o->id)
				parse_error(ps, topology_key_line(&n->origin, "kafka_node", "id"),
					    "kafka_node %s has id %d, as does kafka_node %s (line %d): node ids are unique",
					    n->name, n->id, o->name, o->origin.line);
			if (n->address && o->address && address_equal(n->address, o->address))
				parse_error(ps, topology_key_line(&n->origin, "kafka_node", "address"),
					    "kafka_node %s is on host %s, as is kafka_node %s (line %d): the agent runs one node a host",
					    n->name, n->address, o->name, o->origin.line);
		}
	}
	if ((size_t)k->replication_factor > topo->n_kafka_nodes)
		parse_error(ps, topology_key_line(&k->origin, "kafka", "replication_factor"),
			    "replication_factor %d is more than the %zu [kafka_node]s: topics could not be created",
			    k->replication_factor, topo->n_kafka_nodes);
	for (size_t i = 0; i < topo->n_sources; i++)
		if (!topo->sources[i].capture_address)
			parse_error(ps, topo->sources[i].origin.line,
				    "source %s lacks capture_address: with [kafka_node] sections, say which host captures it and provisions its server",
				    topo->sources[i].name);
	for (size_t i = 0; i < topo->n_targets; i++)
		if (!topo->targets[i].apply_address)
			parse_error(ps, topo->targets[i].origin.line,
				    "target %s lacks apply_address: with [kafka_node] sections, say which host applies into it and provisions its server",
				    topo->targets[i].name);
	if (!kafka_key_set(k, "bootstrap_servers")) {
		strlist_fini(&k->bootstrap_servers);
		for (size_t i = 0; i < topo->n_kafka_nodes; i++) {
			char *hp;

			if (!topo->kafka_nodes[i].address)
				continue;
			hp = xasprintf("%s:%d", topo->kafka_nodes[i].address,
				       topo->kafka_nodes[i].port);
			strlist_add(&k->bootstrap_servers, hp);
			free(hp);
		}
	}
}

static void check_cross_references(struct parse_state *ps, struct topology *topo)
{
	check_sources(ps, topo);
	check_servers_tls(ps, topo);
	check_kafka_managed(ps, topo);
	check_kafka_security(ps, topo);
	check_kafka_installed_security(ps, topo);
	check_kafka_nodes(ps, topo);
	for (size_t i = 0; i < topo->n_pipelines; i++)
		resolve_pipeline(ps, topo, &topo->pipelines[i]);
	check_fan_out(ps, topo);
	/* cdc-agent.service may write install_dir's parent (each version is
	 * unpacked beside the link): never the whole file system. */
	if (topo->kafka.install_dir && strrchr(topo->kafka.install_dir, '/') == topo->kafka.install_dir)
		parse_error(ps, topology_key_line(&topo->kafka.origin, "kafka", "install_dir"),
			    "install_dir: '%s' is directly under '/', which cdc-agent.service would then "
			    "have to write: put it in a directory such as /opt",
			    topo->kafka.install_dir);
	if (topo->n_pipelines == 0 && ps->errors == 0)
		parse_error(ps, 0, "no [pipeline NAME] section: nothing to replicate");
	if (topo->kafka.dist && !topo->kafka.sha512)
		parse_error(ps, topology_key_line(&topo->kafka.origin, "kafka", "dist"),
			    "[kafka] dist needs sha512 so the download can be verified");
}

/* The files of [source]/[target] found missing at parse time are errors
 * (as value_parse words them) where this host captures from or applies
 * into that server; another host of a cluster keeps them. */
static void missing_files_check(struct parse_state *ps, const struct topology *topo)
{
	struct strbuf err;

	strbuf_init(&err);
	for (size_t i = 0; i < ps->n_missing; i++) {
		const struct missing_file *m = &ps->missing[i];
		bool here = m->kind == SEC_SOURCE
				    ? topology_source_here(topo, &topo->sources[m->index])
				    : topology_target_here(topo, &topo->targets[m->index]);
		char *field = NULL;

		err.len = 0;
		if (here && !value_parse(m->key, m->path, &field, &err))
			parse_error(ps, m->line, "%s: %s", m->key->name, err.data);
		free(field);
	}
	strbuf_fini(&err);
}

static void missing_files_free(struct parse_state *ps)
{
	for (size_t i = 0; i < ps->n_missing; i++)
		free(ps->missing[i].path);
	free(ps->missing);
}

/* ---- entry points ------------------------------------------------------ */

/* The SHA-512 of what f holds, as hex: the digest of the very bytes parsed
 * (host.c restarts the pipelines when it changes). */
static void stream_sha512_hex(FILE *f, char hex[TOPOLOGY_DIGEST_HEX + 1])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[8192], digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t got;

	hex[0] = '\0';
	if (!md || EVP_DigestInit_ex(md, EVP_sha512(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return;
	}
	rewind(f);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(md, buf, got);
	if (!ferror(f) && EVP_DigestFinal_ex(md, digest, &n) == 1)
		for (unsigned i = 0; i < n && 2 * i < TOPOLOGY_DIGEST_HEX; i++)
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	EVP_MD_CTX_free(md);
}

bool topology_file_digest(const char *path, char hex[TOPOLOGY_DIGEST_HEX + 1])
{
	FILE *f = fopen(path, "re");

	hex[0] = '\0';
	if (!f)
		return false;
	stream_sha512_hex(f, hex);
	fclose(f);
	return hex[0] != '\0';
}

bool topology_load(const char *path, struct topology **out)
{
	struct parse_state ps = { .path = path, .kind = -1 };
	struct topology *topo;

	ps.file = fopen(path, "r");
	if (!ps.file) {
		log_error_at(path, 0, "cannot open topology: %s", strerror(errno));
		return false;
	}
	topo = xcalloc(1, sizeof(*topo));
	topo->path = xstrdup(path);
	ps.path = topo->path;
	read_file(&ps);
	stream_sha512_hex(ps.file, topo->sha512);
	fclose(ps.file);
	build_sections(&ps, topo);
	check_cross_references(&ps, topo);
	/* Which host this is: the parts of the topology that are its own. */
	topology_self_set(topo, NULL, 0);
	missing_files_check(&ps, topo);
	missing_files_free(&ps);
	raw_sections_free(&ps);
	if (ps.errors) {
		fprintf(stderr, "%s: %d error%s\n", path, ps.errors, ps.errors == 1 ? "" : "s");
		topology_free(topo);
		return false;
	}
	*out = topo;
	return true;
}

void topology_free(struct topology *topo)
{
	if (!topo)
		return;
	free_section(&section_specs[SEC_AGENT], &topo->agent);
	free_section(&section_specs[SEC_KAFKA], &topo->kafka);
	free_section(&section_specs[SEC_ZOOKEEPER], &topo->zookeeper);
	for (size_t i = 0; i < topo->n_sources; i++) {
		free_section(&section_specs[SEC_SOURCE], &topo->sources[i]);
		table_list_fini(&topo->sources[i].tables);
		free(topo->sources[i].name);
	}
	for (size_t i = 0; i < topo->n_targets; i++) {
		free_section(&section_specs[SEC_TARGET], &topo->targets[i]);
		free(topo->targets[i].name);
	}
	for (size_t i = 0; i < topo->n_pipelines; i++) {
		free_section(&section_specs[SEC_PIPELINE], &topo->pipelines[i]);
		free(topo->pipelines[i].name);
	}
	for (size_t i = 0; i < topo->n_kafka_nodes; i++) {
		free_section(&section_specs[SEC_KAFKA_NODE], &topo->kafka_nodes[i]);
		free(topo->kafka_nodes[i].name);
	}
	free(topo->kafka_nodes);
	strlist_fini(&topo->self);
	free(topo->sources);
	free(topo->targets);
	free(topo->pipelines);
	free(topo->path);
	free(topo);
}
