/*
 * agent/provision/pg_hba.c: the cdc-agent block in pg_hba.conf.
 *
 * PostgreSQL 15's pg_hba.conf has no include directive, so the agent keeps
 * one marked block per topology section:
 *     # BEGIN cdc-agent source db1 ...
 *     host  db1  cdc_user  127.0.0.1/32  scram-sha-256
 *     # END cdc-agent source db1
 * (hostssl lines when the section's sslmode requires TLS: require,
 * verify-ca, verify-full; a change of sslmode rewrites the block.)
 * The first matching line wins, so the block must come before every rule
 * the operator wrote; blocks of other sections may precede it.  The new file
 * is checked through pg_hba_file_rules before the server reloads it, and the
 * old one is put back if the server finds an error.
 */
#include "provision/pg_hba.h"

#include "base/files.h"
#include "base/log.h"
#include "base/util.h"
#include "config/topo_warnings.h"
#include "provision/pg_step.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_BEGIN "# BEGIN cdc-agent "
#define BLOCK_END "# END cdc-agent "

/* The agent manages pg_hba.conf where it can see it: on the database host. */
static bool server_is_local(const struct pg_server_cfg *server)
{
	return topo_host_is_local(server->admin_host ? server->admin_host : server->host);
}

char *pg_hba_block(const char *label, const struct pg_server_cfg *server, const char *dbname)
{
	/* hostssl: a role whose every connection must use TLS gets no door
	 * without it (an operator's `host` rule further down may still open
	 * one: that is the operator's to close). */
	const char *type = pg_server_tls_required(server) ? "hostssl" : "host";
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_addf(&sb, BLOCK_BEGIN "%s (managed by cdc-agent: edits inside are overwritten)\n",
		    label);
	for (size_t i = 0; i < server->hba_allow.n; i++)
		strbuf_addf(&sb, "%s\t%s\t%s\t%s\tscram-sha-256\n", type, dbname, server->user,
			    server->hba_allow.items[i]);
	strbuf_addf(&sb, BLOCK_END "%s\n", label);
	return strbuf_detach(&sb);
}

static bool line_is_rule(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] != '#' && line[i] != '\r';
}

/* True when no operator rule comes before stop (lines of other cdc-agent
 * blocks may). */
static bool only_agent_rules_before(const char *text, const char *stop)
{
	bool inside_block = false;

	for (const char *p = text; p < stop;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (strncmp(p, BLOCK_BEGIN, strlen(BLOCK_BEGIN)) == 0)
			inside_block = true;
		else if (strncmp(p, BLOCK_END, strlen(BLOCK_END)) == 0)
			inside_block = false;
		else if (!inside_block && line_is_rule(p, len))
			return false;
		p += len + (nl ? 1 : 0);
	}
	return true;
}

/*
 * Computes the desired file: unchanged if our block is already present, whole
 * and ahead of every operator rule; otherwise with our block removed from
 * wherever it was and put first.  Caller frees the result.
 */
char *pg_hba_desired(const char *current, const char *block, const char *label)
{
	char *begin_marker = xasprintf(BLOCK_BEGIN "%s ", label);
	char *end_marker = xasprintf(BLOCK_END "%s\n", label);
	const char *start = strstr(current, begin_marker), *end = NULL;
	struct strbuf out;

	if (start && (start == current || start[-1] == '\n')) {
		end = strstr(start, end_marker);
		if (end)
			end += strlen(end_marker);
	}
	strbuf_init(&out);
	if (end && (size_t)(end - start) == strlen(block) &&
	    memcmp(start, block, strlen(block)) == 0 && only_agent_rules_before(current, start)) {
		strbuf_adds(&out, current);
	} else {
		strbuf_adds(&out, block);
		if (start && end) {
			strbuf_add(&out, current, (size_t)(start - current));
			strbuf_adds(&out, end);
		} else {
			strbuf_adds(&out, current);
		}
	}
	free(begin_marker);
	free(end_marker);
	return strbuf_detach(&out);
}

/* Asks the server whether its pg_hba.conf, as now on disk, parses. */
static bool hba_file_valid(const struct pg_step_ctx *ctx, PGconn *admin, const char *path)
{
	PGresult *res;
	bool ok;

	if (!pgsql_query(admin, ctx->label,
			 "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL",
			 0, NULL, &res))
		return false; /* errors already logged */
	ok = PQntuples(res) == 0;
	for (int i = 0; i < PQntuples(res); i++)
		log_error_at(path, atoi(PQgetvalue(res, i, 0)), "%s: PostgreSQL rejects this line: %s",
			     ctx->label, PQgetvalue(res, i, 1));
	PQclear(res);
	return ok;
}

static bool hba_write_and_reload(const struct pg_step_ctx *ctx, PGconn *admin, const char *path,
				 const char *old, const char *new)
{
	bool changed;

	if (!file_write_if_changed(path, new, strlen(new), 0600, &changed))
		return false; /* errors already logged */
	if (!hba_file_valid(ctx, admin, path)) {
		log_error("%s: putting back the previous %s", ctx->label, path);
		if (!file_write_if_changed(path, old, strlen(old), 0600, &changed))
			log_error("%s: could not restore %s: fix it before the server reloads",
				  ctx->label, path);
		return false;
	}
	return pgsql_exec(admin, ctx->label, "SELECT pg_reload_conf()");
}

/*
 * The file's path comes from the server (SHOW hba_file), i.e. from whoever
 * runs it: over a Unix socket the kernel tells who that is (SO_PEERCRED),
 * and the agent edits only a file of that user's.  Without that check a
 * server's user could point hba_file at a file of root's and have the agent
 * add its block there.  Over TCP (loopback) the peer is not known; the
 * link checks of files.h still hold.
 */
static bool hba_owner_is_server(const struct pg_step_ctx *ctx, PGconn *admin, const char *path)
{
	struct ucred peer;
	socklen_t peer_len = sizeof(peer);
	struct sockaddr_storage addr;
	socklen_t addr_len = sizeof(addr);
	int sock = PQsocket(admin);
	struct stat st;

	if (sock < 0 || getsockname(sock, (struct sockaddr *)&addr, &addr_len) != 0 ||
	    addr.ss_family != AF_UNIX ||
	    getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0)
		return true; /* not a local socket: nothing the kernel can vouch for */
	if (lstat(path, &st) != 0) {
		log_error("%s: cannot inspect %s: %s", ctx->label, path, strerror(errno));
		return false;
	}
	if (st.st_uid != peer.uid) {
		log_error("%s: refusing %s (the server's hba_file): it belongs to uid %u, but the "
			  "server runs as uid %u; the agent edits only the server's own pg_hba.conf",
			  ctx->label, path, (unsigned)st.st_uid, (unsigned)peer.uid);
		return false;
	}
	return true;
}

bool pg_hba_converge(const struct pg_step_ctx *ctx, PGconn *admin, const char *dbname)
{
	const struct pg_server_cfg *server = ctx->server;
	char *path = NULL, *current = NULL, *block, *desired;
	bool ok = true, exists;

	if (server->manage_hba == MANAGE_HBA_NO ||
	    (server->manage_hba == MANAGE_HBA_AUTO && !server_is_local(server)))
		return true;
	if (!pgsql_query_value(admin, ctx->label, "SHOW hba_file", 0, NULL, &path) || !path)
		return false; /* errors already logged */
	if (access(path, R_OK | W_OK) != 0) {
		pg_step_error_at_key(ctx, "manage_hba",
				     "cannot edit %s (%s): run the agent on the database host as root, or set manage_hba = no and add the entries yourself",
				     path, strerror(errno));
		free(path);
		return false;
	}
	/* The directory is the server's OS user's: a link planted at the
	 * file is refused here and by the write (files.h). */
	if (!hba_owner_is_server(ctx, admin, path) ||
	    !file_read_nofollow(path, &current, NULL, &exists)) {
		free(path);
		return false; /* errors already logged */
	}
	if (!exists) {
		log_error("%s: %s vanished while the agent read it", ctx->label, path);
		free(path);
		return false;
	}
	block = pg_hba_block(ctx->label, server, dbname);
	desired = pg_hba_desired(current, block, ctx->label);
	if (strcmp(desired, current) != 0) {
		struct strbuf from;

		strbuf_init(&from);
		for (size_t i = 0; i < server->hba_allow.n; i++)
			strbuf_addf(&from, "%s%s", i ? ", " : "", server->hba_allow.items[i]);
		change_record(ctx->changes, ctx->label,
			      "allow role %s into database %s from %s%s in %s", server->user, dbname,
			      from.data, pg_server_tls_required(server) ? " over TLS only (hostssl)" : "",
			      path);
		strbuf_fini(&from);
		if (ctx->changes->apply)
			ok = hba_write_and_reload(ctx, admin, path, current, desired);
	}
	free(desired);
	free(block);
	free(current);
	free(path);
	return ok;
}
