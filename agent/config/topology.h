/*
 * agent/config/topology.h: the typed topology (cdc-agent.ini) and its loader.
 *
 * topology_load() parses and validates the whole file before anything else
 * runs; it prints every error as FILE:LINE: error: ... and fails if there was
 * any.  The returned topology owns every string in it (topology_free).
 */
#ifndef CDC_TOPOLOGY_H
#define CDC_TOPOLOGY_H

#include "base/common.h"
#include "base/util.h"

#include <stdint.h>

#define TOPO_MAX_KEYS 40

/*
 * The option enums: what an enum-valued key holds.  A key's file spelling
 * comes from the enum's name table (X_names[], topology.c, indexed by
 * value), never from an enumerator's position, so reordering an enum
 * changes no config value's meaning.  Each enum ends with its _COUNT.
 */
enum kafka_mode { KAFKA_MODE_ZOOKEEPER, KAFKA_MODE_KRAFT, KAFKA_MODE_COUNT };
/* The producer's compression.codec. */
enum kafka_compression {
	KAFKA_COMPRESSION_LZ4,
	KAFKA_COMPRESSION_NONE,
	KAFKA_COMPRESSION_ZSTD,
	KAFKA_COMPRESSION_SNAPPY,
	KAFKA_COMPRESSION_GZIP,
	KAFKA_COMPRESSION_COUNT
};
enum manage_hba { MANAGE_HBA_AUTO, MANAGE_HBA_YES, MANAGE_HBA_NO, MANAGE_HBA_COUNT };
/* libpq's sslmode, named as libpq names it (pgsql.c passes the name).  The
 * default, prefer, is libpq's own: TLS when the server offers it, without
 * checking its certificate. */
enum pg_sslmode {
	PG_SSLMODE_PREFER,
	PG_SSLMODE_DISABLE,
	PG_SSLMODE_ALLOW,
	PG_SSLMODE_REQUIRE,
	PG_SSLMODE_VERIFY_CA,
	PG_SSLMODE_VERIFY_FULL,
	PG_SSLMODE_COUNT
};
enum snapshot_mode {
	SNAPSHOT_INITIAL,
	SNAPSHOT_NEVER,
	SNAPSHOT_INITIAL_ONLY,
	SNAPSHOT_WHEN_NEEDED,
	SNAPSHOT_MODE_COUNT
};
/* How capture writes numeric values (event_json.c). */
enum decimal_mode {
	DECIMAL_STRING,  /* "12.340": every digit and the scale, in both modes (default
			  * without json_schemas) */
	DECIMAL_PRECISE, /* Debezium's default (ours with json_schemas): base64 unscaled
			  * bytes, scale in the schema (numeric(p,s)) or the payload */
	DECIMAL_DOUBLE,  /* a JSON number; may lose digits */
	DECIMAL_MODE_COUNT
};
/* Debezium's interval.handling.mode; string (ISO 8601) is lossless. */
enum interval_mode { INTERVAL_NUMERIC, INTERVAL_STRING, INTERVAL_MODE_COUNT };
enum insert_mode { INSERT_MODE_UPSERT, INSERT_MODE_INSERT, INSERT_MODE_COUNT };
/* What apply does with the source's schema changes (apply_schema.c):
 * follow every one, or never drop a column nor narrow a type. */
enum schema_changes { SCHEMA_CHANGES_FOLLOW, SCHEMA_CHANGES_ADDITIVE, SCHEMA_CHANGES_COUNT };
/* How apply groups changes into target transactions (apply.c): each source
 * transaction atomically, in commit order across tables, or each table's
 * changes in batches of their own (no atomicity across tables). */
enum consistency { CONSISTENCY_TRANSACTION, CONSISTENCY_TABLE, CONSISTENCY_COUNT };

/* The name tables: X_names[v] is how the topology spells value v; each has
 * X_COUNT names (unsized here, so that topology.c's definition is sized by
 * its names and a missing one fails its _Static_assert). */
extern const char *const kafka_mode_names[];
extern const char *const kafka_compression_names[];
extern const char *const manage_hba_names[];
extern const char *const pg_sslmode_names[];
extern const char *const snapshot_mode_names[];
extern const char *const decimal_mode_names[];
extern const char *const interval_mode_names[];
extern const char *const insert_mode_names[];
extern const char *const schema_changes_names[];
extern const char *const consistency_names[];

/* Where a section and each of its keys were written, for error messages. */
struct topo_origin {
	const char *file;            /* the topology's path (borrowed) */
	int line;                    /* the [section] header line; 0 if absent */
	int key_line[TOPO_MAX_KEYS]; /* by key index in the section's schema; 0 if unset */
};

struct table_ref {
	char *schema;
	char *table;
};

struct table_list {
	struct table_ref *items;
	size_t n;
};

/* One item of a source's `tables` as written (README "Tables"): a table
 * name, a pattern (an unquoted part with '*' or '?') or, written with a
 * leading '!', an exclusion of the tables a pattern matches.  Unquoted
 * parts are folded to lower case as PostgreSQL folds them; quoted parts
 * are kept as they are and are never patterns. */
struct table_spec {
	char *schema;
	char *table;
	bool schema_glob;
	bool table_glob;
	bool exclude;
	int line;          /* where it was written (a continuation line's own) */
	bool warned;       /* table_select: "matches nothing" said (once until it matches) */
};

struct table_specs {
	struct table_spec *items;
	size_t n;
};

/* One PostgreSQL server as the agent reaches it: the pipeline's role (user)
 * and the administrator used for provisioning. */
struct pg_server_cfg {
	char *host;                /* host name, IP address or socket directory */
	int port;
	char *dbname;
	char *user;
	char *password_file;
	char *admin_user;
	char *admin_password_file; /* NULL: no password (peer/trust/.pgpass) */
	char *admin_host;          /* NULL: same as host */
	int admin_port;            /* 0: same as port */
	char *admin_dbname;        /* NULL: dbname for sources, postgres for targets */
	char *service;             /* systemd unit that runs the server; NULL: derived */
	enum manage_hba manage_hba;
	struct strlist hba_allow;  /* CIDR addresses the role may connect from */
	enum pg_sslmode sslmode;   /* every connection to the server, admin's too */
	char *sslrootcert;         /* CA certificates (PEM); NULL: libpq's default */
	char *sslcert;             /* client certificate; NULL: none (set with sslkey) */
	char *sslkey;              /* its private key, mode 0600 */
};

/* Whether every connection to server must use TLS (require, verify-ca,
 * verify-full): the agent's pg_hba.conf lines are then hostssl. */
bool pg_server_tls_required(const struct pg_server_cfg *server);

struct source_cfg {
	char *name;
	struct topo_origin origin;
	struct pg_server_cfg pg;
	char *capture_address;     /* the host that captures and provisions it; NULL: any (the
				    * single-host topology), required with [kafka_node]s */
	char *publication;
	char *slot;
	struct table_specs table_specs; /* the `tables` key as written */
	/* The tables replicated: the names of table_specs, and the catalog's
	 * tables its patterns select (table_select.c); in written order, then
	 * the catalog's.  Filled at load when table_specs has no pattern
	 * (tables_static), else by table_select_resolve at each plan,
	 * bootstrap and pass of run, and at the start of capture and apply. */
	struct table_list tables;
	bool tables_static;        /* no pattern: tables is known without the catalog */
	bool tables_resolved;      /* tables is filled */
	char *topic_prefix;
	int max_replication_slots;
	int max_wal_senders;
	enum snapshot_mode snapshot_mode;
	bool json_schemas;         /* events carry JsonConverter's schema block */
	enum decimal_mode decimal_handling;
	enum interval_mode interval_handling;
	bool tombstones;           /* a null-value record after each delete */
	bool truncate_events;      /* emit op "t" for TRUNCATE */
	bool transaction_metadata; /* BEGIN/END on <topic_prefix>.transaction, "transaction" blocks */
	int64_t max_slot_wal_keep_size; /* bytes, set by bootstrap; -1: left as the server has it */
	int64_t slot_warn_retained;     /* retained WAL bytes from which a slot report warns */
};

struct target_cfg {
	char *name;
	struct topo_origin origin;
	struct pg_server_cfg pg;
	char *apply_address;       /* the host that applies into it and provisions it; NULL:
				    * any (single host), required with [kafka_node]s */
	enum insert_mode insert_mode;
	bool auto_create;
	bool auto_evolve;
};

/* Who a Kafka client is to the brokers under a sasl_* security_protocol:
 * a pipeline's capture (producer) and apply (consumer) each have their
 * own.  Both NULL: none (the protocol needs none). */
struct kafka_credentials {
	char *user;                /* sasl.username */
	char *password_file;       /* its first line is sasl.password (files.h secret_read) */
};

struct pipeline_cfg {
	char *name;
	struct topo_origin origin;
	char *source_name;
	char *target_name;
	enum schema_changes schema_changes;
	enum consistency consistency; /* table when unset and the source has no transaction_metadata */
	struct kafka_credentials capture_kafka; /* capture_kafka_user, _password_file */
	struct kafka_credentials apply_kafka;   /* apply_kafka_user, _password_file */
	struct source_cfg *source; /* resolved, borrowed from the topology */
	struct target_cfg *target;
};

struct agent_cfg {
	struct topo_origin origin;
	char *state_dir;
	char *config_dir;          /* rendered ZooKeeper/Kafka configuration */
	char *unit_dir;            /* where unit files are installed */
	char *cache_dir;           /* downloaded distributions */
	bool manage_units;         /* bootstrap installs and runs the systemd units */
	int reconcile_seconds;     /* run: period of the reconcile pass */
	int stall_seconds;         /* status: pending work with no progress this long is STALLED */
	char *status_listen;       /* run: loopback IP:port of the HTTP status; NULL: off */
	char *address;             /* this host's address in the topology; NULL: its
				    * interfaces' addresses and host name (topology_is_self) */
};

/* [kafka]'s security options, option enums as above (spelled by their
 * name tables).  How every client reaches the brokers: librdkafka's
 * security.protocol. */
enum kafka_security {
	KAFKA_SECURITY_PLAINTEXT,
	KAFKA_SECURITY_SSL,
	KAFKA_SECURITY_SASL_PLAINTEXT,
	KAFKA_SECURITY_SASL_SSL,
	KAFKA_SECURITY_COUNT
};
/* librdkafka's sasl.mechanism (for the sasl_* protocols). */
enum kafka_sasl_mechanism {
	KAFKA_SASL_SCRAM_SHA_512,
	KAFKA_SASL_SCRAM_SHA_256,
	KAFKA_SASL_PLAIN,
	KAFKA_SASL_MECHANISM_COUNT
};
extern const char *const kafka_security_names[];
extern const char *const kafka_sasl_mechanism_names[];
/* librdkafka's sasl.mechanism for each (its security.protocol takes
 * kafka_security_names as they are). */
extern const char *const kafka_sasl_mechanism_rdkafka_names[];

struct kafka_cfg {
	struct topo_origin origin;
	bool managed;              /* the agent runs the brokers (dist, units); false: a cluster of
				    * its own (managed-only keys and [zookeeper] refused) */
	enum kafka_mode mode;
	char *dist;                /* URL of the distribution tarball; NULL: not installed */
	char *sha512;
	char *install_dir;
	struct strlist bootstrap_servers;
	int partitions;
	int replication_factor;
	int min_insync_replicas;   /* topics' min.insync.replicas (and the cluster's default) */
	char *data_dir;            /* log.dirs */
	char *heap;                /* JVM heap, e.g. 1g */
	enum kafka_compression compression;
	int64_t max_message_bytes; /* largest record capture produces (kafka_limits.h) */
	enum kafka_security security_protocol;
	enum kafka_sasl_mechanism sasl_mechanism; /* sasl_* protocols only */
	char *ssl_ca_file;         /* PEM CAs the brokers' certificates must chain to; NULL: system's */
	char *ssl_cert_file;       /* PEM client certificate (mutual TLS); NULL: none */
	char *ssl_key_file;        /* its private key, a secret file; set with ssl_cert_file */
	/* The broker the agent installs under sasl_ssl (managed, dist): its
	 * clients' listener presents this certificate (PEM, chain) and key;
	 * NULL: one the agent issues from a CA of its own, and ssl_ca_file is
	 * then that CA (KAFKA_TLS_DIR_NAME/ca.pem under [agent] config_dir). */
	char *broker_cert_file;
	char *broker_key_file;
	bool broker_tls_generated; /* ssl_ca_file was derived, not written */
};

/* Where bootstrap keeps the TLS files of the broker it secures, under
 * [agent] config_dir (provision/kafka_tls.h). */
#define KAFKA_TLS_DIR_NAME "kafka-tls"

/* Whether the agent installs and runs the broker (managed, dist given). */
bool kafka_installed(const struct kafka_cfg *k);
/* Whether that broker is secured (installed, sasl_ssl). */
bool kafka_installed_secure(const struct kafka_cfg *k);

struct zookeeper_cfg {
	struct topo_origin origin;
	struct strlist connect;
	char *data_dir;
};

/* One node of a Kafka cluster the agent runs ([kafka_node NAME], issue
 * #19): a KRaft process that is broker and controller at once, on the
 * host of `address`.  No [kafka_node]: today's single broker on this host. */
struct kafka_node_cfg {
	char *name;
	struct topo_origin origin;
	char *address;             /* the host: listeners bind and advertise it */
	int id;                    /* node.id, unique */
	int port;                  /* the clients' (and brokers') listener; the controller's is port+1 */
	char *rack;                /* broker.rack; NULL: none */
};

#define TOPOLOGY_DIGEST_HEX 128

struct topology {
	char *path;
	char sha512[TOPOLOGY_DIGEST_HEX + 1]; /* of the bytes loaded ("" if unreadable) */
	struct agent_cfg agent;
	struct kafka_cfg kafka;
	struct zookeeper_cfg zookeeper;
	struct source_cfg *sources;
	size_t n_sources;
	struct target_cfg *targets;
	size_t n_targets;
	struct pipeline_cfg *pipelines;
	size_t n_pipelines;
	struct kafka_node_cfg *kafka_nodes; /* none: the single broker of this host */
	size_t n_kafka_nodes;
	/* This host as topology_load found it: [agent] address, or its
	 * interfaces' addresses and host name (topology_is_self). */
	struct strlist self;
};

/* Parses and validates path; on success *out is a new topology (caller frees
 * with topology_free).  Prints every error found, not only the first. */
MUST_CHECK bool topology_load(const char *path, struct topology **out);
void topology_free(struct topology *topo);
/* The digest topology_load would give the file now (hex SHA-512 of its
 * bytes); false, quietly, when it cannot be read. */
bool topology_file_digest(const char *path, char hex[TOPOLOGY_DIGEST_HEX + 1]);

/* The Kafka topic of a source's table: <topic_prefix>.<schema>.<table>,
 * characters Kafka refuses replaced as Debezium does (kafka_topic_name);
 * caller frees. */
char *topology_topic(const struct source_cfg *src, const struct table_ref *t);

/* Debezium's transaction topic of a source, <topic_prefix>.transaction
 * (its BEGIN and END records), or NULL when transaction_metadata is off;
 * caller frees. */
char *topology_transaction_topic(const struct source_cfg *src);

/* What Kafka compares topic names by: '.' and '_' are one character to it
 * (its metric names), so two topics equal but for them collide.  Caller
 * frees. */
char *topology_topic_key(const char *topic);

/* Frees a table list's items (the list itself is embedded). */
void table_list_fini(struct table_list *list);

/* Appends the canonical text of a section's values to out: "[kind NAME]"
 * (or "[kind]") then "key=value" for every key of its schema, in the
 * schema's order, defaults included (value_text): equal for equal values,
 * whatever the file's spelling or order.  kind: "agent", "kafka",
 * "zookeeper", "source", "target" or "pipeline"; section points to the
 * matching struct (e.g. &topo->kafka, a struct source_cfg *). */
void topology_section_text(const char *kind, const char *name, const void *section,
			   struct strbuf *out);

/* The line where key was set in a section (the section's line if unset). */
int topology_key_line(const struct topo_origin *origin, const char *section_kind,
		      const char *key);

/* Whether protocol uses TLS (ssl, sasl_ssl) or SASL (sasl_*). */
bool kafka_security_tls(enum kafka_security protocol);
bool kafka_security_sasl(enum kafka_security protocol);

/* The credentials a probe of the brokers uses (health, status,
 * accept-gap, apply lag): pipe's apply credentials when a pipeline is
 * concerned (the probe reads its consumer group and offsets, as apply
 * does), else the first pipeline's capture credentials (a producer's are
 * enough for metadata).  Borrowed from topo. */
const struct kafka_credentials *topology_probe_credentials(const struct topology *topo,
							  const struct pipeline_cfg *pipe);

/* The schema, for cdc-agent.ini(5) (config/topo_doc.c, `make man`) and its
 * test: the sections in the order the manual lists them, each with its
 * keys (struct key_spec, config/topo_values.h). */
struct key_spec;
struct topo_schema_section {
	const char *kind;           /* "agent", "source", ... */
	bool named;                 /* [source NAME] */
	const char *description;
	const struct key_spec *keys;
	size_t n_keys;
};

/* Section i of the schema in *out; false past the last. */
bool topology_schema_section(size_t i, struct topo_schema_section *out);

/* Fan-out: the pipeline that captures pipe's source, the first [pipeline]
 * of that source in the file (pipe itself when it is).  Only it has a
 * capture (unit cdc-capture@NAME, capture_kafka_* keys, its progress file,
 * schema key); every pipeline of the source has its own apply.  Borrowed
 * from topo. */
const struct pipeline_cfg *topology_capture_pipeline(const struct topology *topo,
						       const struct pipeline_cfg *pipe);
/* Whether pipe captures its source (topology_capture_pipeline is pipe). */
bool topology_captures(const struct topology *topo, const struct pipeline_cfg *pipe);

/* ---- hosts (issue #19): which part of the topology runs on this host ---- */

/* Whether the topology names Kafka nodes: a cluster across hosts, each
 * host converging its own part. */
bool topology_is_cluster(const struct topology *topo);
/* Whether address (a [kafka_node] address, a capture_address, an
 * apply_address) is this host: [agent] address when set, else one of the
 * host's interface addresses (compared as addresses: 10.0.0.1 and
 * 10.000.000.001 alike) or its host name. */
bool topology_is_self(const struct topology *topo, const char *address);
/* This host's [kafka_node], or NULL (none of them, or no cluster). */
const struct kafka_node_cfg *topology_self_node(const struct topology *topo);
/* Whether this host runs the broker the agent installs: the single one
 * (no [kafka_node], [kafka] dist) or its own node of the cluster. */
bool topology_runs_kafka(const struct topology *topo);
/* Whether this host provisions src and runs its capture (capture_address
 * unset or this host). */
bool topology_source_here(const struct topology *topo, const struct source_cfg *src);
/* Whether this host provisions tgt and runs the applies into it. */
bool topology_target_here(const struct topology *topo, const struct target_cfg *tgt);
/* Whether this host runs pipe's capture unit (it captures, and its
 * source's capture_address is here) and its apply unit. */
bool topology_runs_capture(const struct topology *topo, const struct pipeline_cfg *pipe);
bool topology_runs_apply(const struct topology *topo, const struct pipeline_cfg *pipe);
/* Sets topo->self from address list (tests; topology_load does it from
 * the host); a NULL list: the host's own. */
void topology_self_set(struct topology *topo, const char *const *addresses, size_t n);
/* The KRaft controller.quorum.voters of the cluster (id@address:port+1,
 * in file order), or of the single broker (id 1 on 127.0.0.1); caller frees. */
char *topology_quorum_voters(const struct topology *topo, int single_controller_port);
/* A KRaft cluster id every node derives alike from the nodes' ids and
 * addresses (22 base64url characters, as Kafka's Uuid); out has 23 bytes. */
void topology_cluster_id(const struct topology *topo, char out[23]);

/* Whether a and b name one server: the pipeline role's host and port (a
 * server unset, as in a file being checked, is no other's). */
bool topology_same_server(const struct pg_server_cfg *a, const struct pg_server_cfg *b);

#endif
