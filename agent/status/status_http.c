/*
 * agent/status/status_http.c: HTTP endpoints of `run` (see status_http.h).
 */
#include "status/status_http.h"

#include "base/log.h"
#include "base/util.h"
#include "status/status.h"
#include "status/status_metrics.h"
#include "status/status_state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* What one client may hold (docs/STATUS.md "Limits").  The endpoints are on
 * loopback, so every client is a local process or a browser on this host. */
enum {
	CONN_LIMIT = 32,           /* connections at once; past it, new ones are
				    * closed at once */
	SLOW_LIMIT = CONN_LIMIT / 2, /* connections still sending their request
				    * head; past it, the oldest is cut */
	PER_IP_LIMIT = 8,          /* ... from one address; past it, a new one is
				    * closed at once */
	IDLE_TIMEOUT_S = 2,        /* a connection silent this long is closed */
	HEAD_DEADLINE_MS = 2000,   /* from accept to a complete request head, else
				    * cut (one request per connection) */
	MEMORY_LIMIT = 16384,      /* bytes of request head a connection may hold */
	URL_MAX = 512,             /* bytes of path */
	REPORT_PERIOD_S = 10,      /* at most one log line about refusals per period */
	WATCH_TICK_MS = 200,       /* how often the watchdog looks */
};

#define HEAD_DEADLINE_TEXT "2 s" /* HEAD_DEADLINE_MS, for messages */

/* Why a connection or request was refused (counted, logged in summary). */
enum refusal {
	REFUSED_LIMIT,    /* over the connection limits (libmicrohttpd) */
	REFUSED_SLOW,     /* no complete request head within HEAD_DEADLINE_MS */
	REFUSED_EVICTED,  /* cut for a newer one, over SLOW_LIMIT */
	REFUSED_ENDED,    /* ended with its request incomplete (libmicrohttpd):
			   * the client hung up, or one of the two above */
	REFUSED_HOST,     /* Host is not this endpoint (DNS rebinding) */
	REFUSED_METHOD,   /* not GET or HEAD */
	REFUSED_URL,      /* path longer than URL_MAX */
	REFUSED_OTHER,    /* anything else libmicrohttpd reports */
	N_REFUSALS
};

static const char *const refusal_names[N_REFUSALS] = {
	[REFUSED_LIMIT] = "connections over the limits",
	[REFUSED_SLOW] = ("cut: request head not complete within " HEAD_DEADLINE_TEXT),
	[REFUSED_EVICTED] = "cut: oldest of too many incomplete request heads",
	[REFUSED_ENDED] = "ended with an incomplete request",
	[REFUSED_HOST] = "Host not this endpoint",
	[REFUSED_METHOD] = "method not GET/HEAD",
	[REFUSED_URL] = "URL too long",
	[REFUSED_OTHER] = "other errors (libmicrohttpd)",
};

/* One open connection, watched for its request head's deadline. */
struct watched {
	struct watched *next, *prev;
	int fd;
	int64_t accepted_usec;
	bool head_done;       /* the request head is complete: no deadline */
	bool cut;
};

struct status_http {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	json_t *doc;          /* the last published document; under lock */
	char *worker_id;      /* the listen address, as Kafka Connect's worker_id */

	/* The watchdog thread: head deadlines and the refusal log.  Under
	 * watch_lock, which both it and libmicrohttpd's thread take. */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_wake;
	pthread_t watchdog;
	bool watchdog_running, stopping;
	bool serving;                          /* MHD_start_daemon returned */
	struct watched conns;                  /* list head */
	unsigned long refused[N_REFUSALS];     /* since the last line */
	unsigned long refused_total;
	int64_t refused_since_usec;            /* the first of them */
	int64_t last_line_usec;                /* the last line about refusals; 0: none */
	char last_refusal[200];                /* the last one, described */
};

/* ---- Kafka Connect's shapes ------------------------------------------------- */

/* A process's Kafka Connect state: RUNNING, STOPPED, FAILED or UNASSIGNED,
 * from the state status.c decided (docs/STATUS.md): SNAPSHOTTING is RUNNING
 * to Connect; STALLED is FAILED, since a monitor reading Connect's states
 * must not see a hung task as RUNNING (the task's "trace" says STALLED). */
static const char *connect_state(const json_t *half, const char **trace)
{
	const char *reason = json_string_value(json_object_get(half, "reason"));

	*trace = reason ? reason : json_string_value(json_object_get(half, "last_error"));
	switch (health_parse(json_string_value(json_object_get(half, "state")))) {
	case HEALTH_RUNNING:
	case HEALTH_SNAPSHOTTING:
		return "RUNNING";
	case HEALTH_STOPPED:
		return "STOPPED";
	case HEALTH_FAILED:
	case HEALTH_STALLED:
		return "FAILED";
	case HEALTH_DEGRADED:
		return "UNASSIGNED";
	case N_HEALTH:
		break;
	}
	/* A document without states (an older agent's): from the unit. */
	*trace = json_string_value(json_object_get(half, "last_error"));
	switch (status_process_state(half)) {
	case PROCESS_RUNNING:
		return "RUNNING";
	case PROCESS_STOPPED:
		return "STOPPED";
	case PROCESS_FAILED:
		return "FAILED";
	case PROCESS_STARTING:
	case PROCESS_UNKNOWN:
		break;
	}
	return "UNASSIGNED";
}

json_t *status_connect_shape(const json_t *doc, const char *name, const char *worker_id)
{
	json_t *wanted = json_string(name), *shape = NULL;
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
		const json_t *names = json_object_get(p, "connectors");
		bool source = json_equal(json_object_get(names, "source"), wanted);
		bool sink = json_equal(json_object_get(names, "sink"), wanted);
		const char *state, *trace = NULL;
		const json_t *half_state;
		json_t *task;

		if (!source && !sink)
			continue;
		state = connect_state(json_object_get(p, source ? "capture" : "apply"), &trace);
		task = json_pack("{s:i, s:s, s:s}", "id", 0, "state", state, "worker_id", worker_id);
		if (strcmp(state, "FAILED") == 0 && trace)
			json_object_set_new(task, "trace", json_string(trace));
		half_state = json_object_get(json_object_get(p, source ? "capture" : "apply"), "state");
		if (json_is_string(half_state)) /* ours, beyond Connect's: STALLED, SNAPSHOTTING */
			json_object_set(task, "cdc_agent_state", (json_t *)half_state);
		shape = json_pack("{s:s, s:{s:s, s:s}, s:[o], s:s}", "name", name, "connector",
				  "state", state, "worker_id", worker_id, "tasks", task, "type",
				  source ? "source" : "sink");
		break;
	}
	json_decref(wanted);
	return shape;
}

static json_t *connector_names(const json_t *doc)
{
	json_t *names = json_array();
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(doc, "pipelines"), i, p) {
		const json_t *c = json_object_get(p, "connectors");
		json_t *src = json_object_get(c, "source"), *n;
		size_t j;
		bool seen = false;

		/* Fan-out: the pipelines of one source share its source connector. */
		json_array_foreach(names, j, n)
			seen = seen || json_equal(n, src);
		if (!seen)
			json_array_append(names, src);
		json_array_append(names, json_object_get(c, "sink"));
	}
	return names;
}

/* ?expand=status: {"NAME": {"status": {...}}, ...} as Kafka Connect answers. */
static json_t *connectors_expanded(const json_t *doc, const char *worker_id)
{
	json_t *names = connector_names(doc), *out = json_object(), *n;
	size_t i;

	json_array_foreach(names, i, n)
		json_object_set_new(out, json_string_value(n),
				    json_pack("{s:o}", "status",
					      status_connect_shape(doc, json_string_value(n), worker_id)));
	json_decref(names);
	return out;
}

/* ---- Refusals: counted, logged at most once per REPORT_PERIOD_S ------------- */

/* Copies what a client sent into out, printable ASCII only, cut short. */
static void printable(const char *s, char *out, size_t size)
{
	size_t i, n = 0;

	for (i = 0; s[i] && n + 4 < size; i++)
		out[n++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i])
		out[n++] = '.', out[n++] = '.', out[n++] = '.';
	out[n] = '\0';
}

/* The summary of the refusals counted since the last line; under watch_lock. */
static void report_locked(struct status_http *h, int64_t now)
{
	struct strbuf sb;
	const char *sep = "";
	int i;

	if (!h->refused_total)
		return;
	strbuf_init(&sb);
	for (i = 0; i < N_REFUSALS; i++) {
		if (!h->refused[i])
			continue;
		strbuf_addf(&sb, "%s%lu %s", sep, h->refused[i], refusal_names[i]);
		sep = ", ";
	}
	log_warn("status endpoint %s: refused or cut in the last %lld s: %s; last: %s",
		 h->worker_id, (long long)((now - h->refused_since_usec) / 1000000 + 1), sb.data,
		 h->last_refusal);
	strbuf_fini(&sb);
	memset(h->refused, 0, sizeof(h->refused));
	h->refused_total = 0;
	h->last_line_usec = now;
}

/* Counts one refusal (what: a description); the first after a quiet period
 * is logged at once, the rest in the watchdog's summary.  Under watch_lock. */
static void refuse_locked(struct status_http *h, enum refusal why, const char *what)
{
	int64_t now = mono_usec();

	snprintf(h->last_refusal, sizeof(h->last_refusal), "%s", what);
	if (!h->refused_total && (!h->last_line_usec ||
				  now - h->last_line_usec >= REPORT_PERIOD_S * 1000000LL)) {
		log_warn("status endpoint %s: refused: %s (%s; further refusals are counted "
			 "and reported at most every %d s)",
			 h->worker_id, what, refusal_names[why], REPORT_PERIOD_S);
		h->last_line_usec = now;
		return;
	}
	if (!h->refused_total)
		h->refused_since_usec = now;
	h->refused[why]++;
	h->refused_total++;
}

static void refuse(struct status_http *h, enum refusal why, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
static void refuse(struct status_http *h, enum refusal why, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&h->watch_lock);
	refuse_locked(h, why, what);
	pthread_mutex_unlock(&h->watch_lock);
}

/* libmicrohttpd's messages: one per refused connection ("Server reached
 * connection limit"), per client that hangs up early, ... */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct status_http *h = cls;
	char msg[160], *cut;
	enum refusal why;
	size_t n;
	bool serving;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	cut = strstr(msg, " ('"); /* "... code is 414 ('<html>..." */
	if (cut)
		*cut = '\0';
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
		msg[--n] = '\0';
	pthread_mutex_lock(&h->watch_lock);
	serving = h->serving;
	pthread_mutex_unlock(&h->watch_lock);
	if (!serving) { /* why MHD_start_daemon fails */
		log_error("status endpoint %s: libmicrohttpd: %s", h->worker_id, msg);
		return;
	}
	if (strstr(msg, "connection limit"))
		why = REFUSED_LIMIT;
	else if (strstr(msg, "incomplete request") || strstr(msg, "disconnected when reading"))
		why = REFUSED_ENDED;
	else if (strstr(msg, "code is 414"))
		why = REFUSED_URL;
	else
		why = REFUSED_OTHER;
	refuse(h, why, "libmicrohttpd: %s", msg);
}

/* ---- Slow clients: a deadline on the request head ---------------------------- */

/* libmicrohttpd's own timeout (IDLE_TIMEOUT_S) restarts at every byte: a
 * client sending its head one byte a second would hold its connection for
 * hours.  The watchdog cuts a connection whose head is not complete
 * HEAD_DEADLINE_MS after it was accepted (every answer closes its
 * connection, so that there is no second request to watch): shutdown(), so
 * that libmicrohttpd's thread sees the end of the stream and
 * closes the connection itself.  The fd is still open then: the entry leaves
 * the list (on_connection, MHD_CONNECTION_NOTIFY_CLOSED) under watch_lock
 * before libmicrohttpd closes the fd. */
static void cut_locked(struct status_http *h, struct watched *w, enum refusal why,
		       const char *what)
{
	shutdown(w->fd, SHUT_RDWR);
	w->cut = true;
	refuse_locked(h, why, what);
}

/* Past SLOW_LIMIT connections still sending their request head, the oldest
 * are cut: slow clients from many addresses cannot fill CONN_LIMIT, and a
 * new client, whose head comes at once, gets in.  (The list is newest
 * first.) */
static void evict_locked(struct status_http *h)
{
	struct watched *w;
	int slow = 0;

	for (w = h->conns.next; w != &h->conns; w = w->next)
		slow += !w->head_done && !w->cut;
	for (w = h->conns.prev; w != &h->conns && slow > SLOW_LIMIT; w = w->prev) {
		if (w->head_done || w->cut)
			continue;
		cut_locked(h, w, REFUSED_EVICTED, "a connection cut: the oldest of too many "
			   "with their request head incomplete");
		slow--;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct status_http *h = cls;
	struct watched *w = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (!info)
			return;
		w = xcalloc(1, sizeof(*w));
		w->fd = info->connect_fd;
		w->accepted_usec = mono_usec();
		pthread_mutex_lock(&h->watch_lock);
		w->next = h->conns.next;
		w->prev = &h->conns;
		w->next->prev = w;
		h->conns.next = w;
		evict_locked(h);
		pthread_mutex_unlock(&h->watch_lock);
		*socket_context = w;
	} else if (w) {
		pthread_mutex_lock(&h->watch_lock);
		w->prev->next = w->next;
		w->next->prev = w->prev;
		pthread_mutex_unlock(&h->watch_lock);
		free(w);
		*socket_context = NULL;
	}
}

static struct watched *watched_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* The request head is complete: no deadline any more. */
static void head_done(struct status_http *h, struct MHD_Connection *conn)
{
	struct watched *w = watched_of(conn);

	if (!w)
		return;
	pthread_mutex_lock(&h->watch_lock);
	w->head_done = true;
	pthread_mutex_unlock(&h->watch_lock);
}

static void *watchdog(void *arg)
{
	struct status_http *h = arg;
	struct timespec until;

	pthread_mutex_lock(&h->watch_lock);
	while (!h->stopping) {
		int64_t now = mono_usec();
		struct watched *w;

		for (w = h->conns.next; w != &h->conns; w = w->next) {
			if (w->head_done || w->cut ||
			    now - w->accepted_usec < HEAD_DEADLINE_MS * 1000LL)
				continue;
			cut_locked(h, w, REFUSED_SLOW, "a connection cut: no complete request "
				   "head within " HEAD_DEADLINE_TEXT);
		}
		if (h->refused_total && now - h->last_line_usec >= REPORT_PERIOD_S * 1000000LL)
			report_locked(h, now);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->watch_wake, &h->watch_lock, &until);
	}
	pthread_mutex_unlock(&h->watch_lock);
	return NULL;
}

/* ---- Host: only this endpoint's names (no DNS rebinding) ---------------------- */

/* A loopback name: localhost, 127.0.0.0/8 or [::1] written as an address. */
static bool loopback_name(const char *name)
{
	unsigned char a[16];
	size_t n = strlen(name);

	if (strcasecmp(name, "localhost") == 0)
		return true;
	if (name[0] == '[' && n > 2 && name[n - 1] == ']') {
		char inner[INET6_ADDRSTRLEN + 1];

		if (n - 2 >= sizeof(inner))
			return false;
		memcpy(inner, name + 1, n - 2);
		inner[n - 2] = '\0';
		return inet_pton(AF_INET6, inner, a) == 1 &&
		       IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
	}
	/* inet_pton takes dotted quads only: not 127.1, 0x7f.1 or 2130706433. */
	return inet_pton(AF_INET, name, a) == 1 && a[0] == 127;
}

/* "8083" against "8083": decimal digits only, the same number. */
static bool port_matches(const char *port, const char *listen_port)
{
	size_t n = strspn(port, "0123456789");

	return n > 0 && n <= 5 && port[n] == '\0' && atoi(port) == atoi(listen_port);
}

bool status_http_host_allowed(const char *host, const char *listen)
{
	const char *lcolon = strrchr(listen, ':'), *end;
	char name[64];
	size_t n;

	if (!host || !lcolon)
		return false;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end)
			return false;
		end++;
	} else {
		end = host + strcspn(host, ":");
	}
	if (*end == ':' ? !port_matches(end + 1, lcolon + 1) : *end != '\0')
		return false;
	n = (size_t)(end - host);
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (n == (size_t)(lcolon - listen) && strncasecmp(name, listen, n) == 0)
		return true;
	return loopback_name(name);
}

/* ---- HTTP plumbing ----------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       char *body /* freed here */)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* One request per connection: an idle keep-alive connection would be
	 * a slow client's second chance (see watchdog). */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(body);
	return respond(conn, status, "application/json", text ? text : xstrdup("null"));
}

/* Kafka Connect's error body. */
static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status,
				     const char *message)
{
	return respond_json(conn, status, json_pack("{s:i, s:s}", "error_code", (int)status,
						     "message", message));
}

/* A refusal: Kafka Connect's error body, the connection closed after it
 * (libmicrohttpd reads no request body once an answer is queued). */
static enum MHD_Result respond_refusal(struct MHD_Connection *conn, unsigned status,
				       const char *message)
{
	json_t *body = json_pack("{s:i, s:s}", "error_code", (int)status, "message", message);
	char *text = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	json_decref(body);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* "/connectors/NAME/status" -> NAME (caller frees), else NULL. */
static char *connector_in_path(const char *url)
{
	const char *prefix = "/connectors/", *suffix = "/status";
	size_t lp = strlen(prefix), ls = strlen(suffix), n = strlen(url);

	if (n <= lp + ls || strncmp(url, prefix, lp) != 0 || strcmp(url + n - ls, suffix) != 0)
		return NULL;
	if (memchr(url + lp, '/', n - lp - ls))
		return NULL;
	return xstrndup(url + lp, n - lp - ls);
}

static enum MHD_Result route(struct status_http *h, struct MHD_Connection *conn,
			     const char *url, const json_t *doc)
{
	char *name;

	if (strcmp(url, "/status") == 0)
		return respond_json(conn, MHD_HTTP_OK, json_deep_copy(doc));
	if (strcmp(url, "/metrics") == 0) {
		struct strbuf sb;

		strbuf_init(&sb);
		status_metrics_render(doc, &sb);
		return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			       strbuf_detach(&sb));
	}
	if (strcmp(url, "/connectors") == 0 || strcmp(url, "/connectors/") == 0) {
		const char *expand = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "expand");

		return respond_json(conn, MHD_HTTP_OK,
				    expand && strcmp(expand, "status") == 0
					    ? connectors_expanded(doc, h->worker_id)
					    : connector_names(doc));
	}
	name = connector_in_path(url);
	if (name) {
		json_t *shape = status_connect_shape(doc, name, h->worker_id);
		char *msg = xasprintf("Connector %s not found", name);
		enum MHD_Result ret = shape ? respond_json(conn, MHD_HTTP_OK, shape)
					    : respond_error(conn, MHD_HTTP_NOT_FOUND, msg);

		free(msg);
		free(name);
		return ret;
	}
	return respond_error(conn, MHD_HTTP_NOT_FOUND, "not found (see docs/STATUS.md)");
}

/* What a client may ask, checked before anything is served: the Host (a
 * page in a browser on this host, its name rebound to 127.0.0.1, must not
 * read the status), the method, the length of the path. */
static enum MHD_Result refused_request(struct status_http *h, struct MHD_Connection *conn,
				       const char *url, const char *method,
				       const char *version, bool *refused)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	char shown[80];
	size_t n = strlen(url);

	*refused = true;
	if (!host && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
		refuse(h, REFUSED_HOST, "an %s request without Host", version);
		return respond_refusal(conn, MHD_HTTP_BAD_REQUEST, "Host header required");
	}
	if (host && !status_http_host_allowed(host, h->worker_id)) {
		char msg[160];

		printable(host, shown, sizeof(shown));
		refuse(h, REFUSED_HOST, "Host '%s'", shown);
		snprintf(msg, sizeof(msg),
			 "Host is not this endpoint: ask localhost, 127.0.0.1 or [::1] (port %s)",
			 strrchr(h->worker_id, ':') + 1);
		return respond_refusal(conn, MHD_HTTP_MISDIRECTED_REQUEST, msg);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		printable(method, shown, sizeof(shown));
		refuse(h, REFUSED_METHOD, "method %s", shown);
		return respond_refusal(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				       "read-only: the topology file is the agent's only input");
	}
	if (n > URL_MAX) {
		refuse(h, REFUSED_URL, "a path of %zu bytes", n);
		return respond_refusal(conn, MHD_HTTP_URI_TOO_LONG, "path too long");
	}
	*refused = false;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct status_http *h = cls;
	enum MHD_Result ret;
	json_t *doc;
	bool refused;

	(void)upload;
	(void)upload_size;
	(void)con_cls;
	head_done(h, conn);
	ret = refused_request(h, conn, url, method, version, &refused);
	if (refused)
		return ret;
	pthread_mutex_lock(&h->lock);
	doc = json_incref(h->doc);
	pthread_mutex_unlock(&h->lock);
	if (!doc)
		return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "the agent has not collected its first status yet");
	ret = route(h, conn, url, doc);
	json_decref(doc);
	return ret;
}

/* "127.0.0.1:8083" or "[::1]:8083" (checked by the topology) -> address. */
static bool listen_address(const char *listen, struct sockaddr_storage *ss)
{
	const char *colon = strrchr(listen, ':');
	char *host = xstrndup(listen, (size_t)(colon - listen));
	int port = atoi(colon + 1);
	bool ok;

	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		ok = inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		ok = inet_pton(AF_INET, host, &a4->sin_addr) == 1;
	}
	free(host);
	return ok;
}

static void watch_init(struct status_http *h)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&h->watch_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->watch_wake, &attr);
	pthread_condattr_destroy(&attr);
	h->conns.next = h->conns.prev = &h->conns;
	errno = pthread_create(&h->watchdog, NULL, watchdog, h);
	if (errno)
		log_warn("status endpoint %s: no watchdog thread (%m): slow clients are cut only "
			 "after %d s of silence", h->worker_id, IDLE_TIMEOUT_S);
	h->watchdog_running = errno == 0;
}

/* Stops the watchdog (after libmicrohttpd: no more refusals) and logs the
 * refusals not yet reported. */
static void watch_fini(struct status_http *h)
{
	pthread_mutex_lock(&h->watch_lock);
	h->stopping = true;
	pthread_cond_signal(&h->watch_wake);
	pthread_mutex_unlock(&h->watch_lock);
	if (h->watchdog_running)
		pthread_join(h->watchdog, NULL);
	report_locked(h, mono_usec());
	while (h->conns.next != &h->conns) { /* none: MHD_stop_daemon closed them */
		struct watched *w = h->conns.next;

		h->conns.next = w->next;
		free(w);
	}
	pthread_cond_destroy(&h->watch_wake);
	pthread_mutex_destroy(&h->watch_lock);
}

bool status_http_start(const char *listen, struct status_http **out)
{
	struct status_http *h = xcalloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!listen_address(listen, &ss)) {
		log_error("status_listen %s: not an IP address and port", listen);
		free(h);
		return false;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	pthread_mutex_init(&h->lock, NULL);
	h->worker_id = xstrdup(listen);
	watch_init(h);
	h->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, /* first: it gets every message */
		MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->daemon) {
		log_error("cannot serve the status endpoints on %s ([agent] status_listen): the "
			  "address is in use or not local",
			  listen);
		watch_fini(h);
		pthread_mutex_destroy(&h->lock);
		free(h->worker_id);
		free(h);
		return false;
	}
	pthread_mutex_lock(&h->watch_lock);
	h->serving = true;
	pthread_mutex_unlock(&h->watch_lock);
	log_info("status endpoints on http://%s/ (/status, /connectors, /metrics)", listen);
	*out = h;
	return true;
}

void status_http_publish(struct status_http *h, json_t *doc)
{
	json_t *old;

	pthread_mutex_lock(&h->lock);
	old = h->doc;
	h->doc = doc;
	pthread_mutex_unlock(&h->lock);
	json_decref(old);
}

void status_http_stop(struct status_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	watch_fini(h);
	json_decref(h->doc);
	pthread_mutex_destroy(&h->lock);
	free(h->worker_id);
	free(h);
}
