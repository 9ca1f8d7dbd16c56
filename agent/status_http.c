/*
 * agent/status_http.c: HTTP endpoints of `run` (see status_http.h).
 */
#include "status_http.h"

#include "log.h"
#include "status.h"
#include "status_metrics.h"
#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct status_http {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	json_t *doc;          /* the last published document; under lock */
	char *worker_id;      /* the listen address, as Kafka Connect's worker_id */
};

/* ---- Kafka Connect's shapes ------------------------------------------------- */

/* A process's Kafka Connect state: RUNNING, STOPPED, FAILED or UNASSIGNED. */
static const char *connect_state(const json_t *half, const char **trace)
{
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
		json_t *task;

		if (!source && !sink)
			continue;
		state = connect_state(json_object_get(p, source ? "capture" : "apply"), &trace);
		task = json_pack("{s:i, s:s, s:s}", "id", 0, "state", state, "worker_id", worker_id);
		if (strcmp(state, "FAILED") == 0 && trace)
			json_object_set_new(task, "trace", json_string(trace));
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

		json_array_append(names, json_object_get(c, "source"));
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

/* ---- HTTP plumbing ----------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       char *body /* freed here */)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct status_http *h = cls;
	enum MHD_Result ret;
	json_t *doc;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				     "read-only: the topology file is the agent's only input");
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
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
				     MHD_OPTION_CONNECTION_LIMIT, 16u,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!h->daemon) {
		log_error("cannot serve the status endpoints on %s ([agent] status_listen): the "
			  "address is in use or not local",
			  listen);
		pthread_mutex_destroy(&h->lock);
		free(h->worker_id);
		free(h);
		return false;
	}
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
	json_decref(h->doc);
	pthread_mutex_destroy(&h->lock);
	free(h->worker_id);
	free(h);
}
