/*
 * agent/systemd/supervise.c: the restart policy of `run` (rule in supervise.h).
 */
#include "systemd/supervise.h"

#include "base/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A unit that stays up this long after a start has recovered: its failure
 * count starts again from zero. */
#define RECOVERED_AFTER_SEC 60

struct unit_memory {
	char *unit;
	int failures;          /* failed starts or crashes in a row */
	time_t next_attempt;   /* not before */
	time_t started_at;     /* last start made by the agent; 0: none */
	bool gave_up_logged;
};

struct supervisor {
	struct unit_memory *units;
	size_t n;
};

struct supervisor *supervisor_new(void)
{
	return xcalloc(1, sizeof(struct supervisor));
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->units[i].unit);
	free(s->units);
	free(s);
}

/* The memory of unit, created empty on first use (owned by s). */
static struct unit_memory *memory_of(struct supervisor *s, const char *unit)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->units[i].unit, unit) == 0)
			return &s->units[i];
	s->units = xrealloc(s->units, (s->n + 1) * sizeof(*s->units));
	memset(&s->units[s->n], 0, sizeof(s->units[s->n]));
	s->units[s->n].unit = xstrdup(unit);
	return &s->units[s->n++];
}

static bool is_up(const struct unit_state *st)
{
	return strcmp(st->active, "active") == 0 || strcmp(st->active, "activating") == 0 ||
	       strcmp(st->active, "reloading") == 0 || strcmp(st->active, "deactivating") == 0;
}

static bool crashed(const struct unit_state *st)
{
	return strcmp(st->active, "failed") == 0 ||
	       (strcmp(st->active, "inactive") == 0 && st->result[0] &&
		strcmp(st->result, "success") != 0);
}

/* apply stopped on a record (or a gap) it cannot go past, or capture on a
 * change too large for Kafka: every start would fail on it again, so the
 * unit is left failed until the operator acts. */
static bool refused_input(const struct unit_state *st)
{
	return crashed(st) && strcmp(st->result, "exit-code") == 0 &&
	       st->exit_status == EXIT_REFUSED_INPUT;
}

static int backoff_sec(int failures)
{
	int delay = SUPERVISE_BACKOFF_FIRST_SEC;

	for (int i = 1; i < failures && delay < SUPERVISE_BACKOFF_MAX_SEC; i++)
		delay *= 2;
	return delay < SUPERVISE_BACKOFF_MAX_SEC ? delay : SUPERVISE_BACKOFF_MAX_SEC;
}

enum unit_verdict supervisor_decide(struct supervisor *s, const char *unit,
				    const struct unit_state *st, time_t now)
{
	struct unit_memory *m = memory_of(s, unit);

	if (is_up(st)) {
		if (m->started_at && now - m->started_at >= RECOVERED_AFTER_SEC &&
		    strcmp(st->active, "active") == 0) {
			m->failures = 0;
			m->started_at = 0;
			m->gave_up_logged = false;
		}
		return UNIT_RUNNING;
	}
	if (!crashed(st))
		return st->active_enter_usec ? UNIT_OPERATOR_STOPPED : UNIT_START;
	if (refused_input(st)) {
		if (!m->gave_up_logged)
			log_error("%s stopped on input it cannot go past (exit %d; its journal names the record): not starting it again (`systemctl start %s` once it is dealt with)",
				  unit, EXIT_REFUSED_INPUT, unit);
		m->gave_up_logged = true;
		m->started_at = 0;
		return UNIT_GAVE_UP;
	}
	/* A crash after our last start counts as one more failure. */
	if (m->started_at) {
		m->failures++;
		m->started_at = 0;
		m->next_attempt = now + backoff_sec(m->failures);
	}
	if (m->failures >= SUPERVISE_MAX_ATTEMPTS) {
		if (!m->gave_up_logged)
			log_error("%s failed %d times in a row after being started again; giving up "
				  "(`systemctl start %s` or reloading the agent tries again)",
				  unit, m->failures, unit);
		m->gave_up_logged = true;
		return UNIT_GAVE_UP;
	}
	return now < m->next_attempt ? UNIT_BACKING_OFF : UNIT_START;
}

void supervisor_started(struct supervisor *s, const char *unit, bool ok, time_t now)
{
	struct unit_memory *m = memory_of(s, unit);

	if (ok) {
		m->started_at = now;
		return;
	}
	m->failures++;
	m->next_attempt = now + backoff_sec(m->failures);
}

void supervisor_forgive(struct supervisor *s)
{
	for (size_t i = 0; i < s->n; i++) {
		s->units[i].failures = 0;
		s->units[i].next_attempt = 0;
		s->units[i].gave_up_logged = false;
	}
}

void supervisor_describe(struct supervisor *s, const char *unit, const struct unit_state *st,
			 time_t now, struct strbuf *out)
{
	struct unit_memory *m = memory_of(s, unit);

	if (is_up(st))
		strbuf_adds(out, strcmp(st->active, "active") == 0 ? "running" : st->active);
	else if (!crashed(st))
		strbuf_adds(out, st->active_enter_usec ? SUPERVISION_OPERATOR_STOPPED : "not started yet");
	else if (refused_input(st))
		strbuf_addf(out, SUPERVISION_GAVE_UP ": stopped on input it cannot go past (exit %d, see its journal)",
			    EXIT_REFUSED_INPUT);
	else if (m->failures >= SUPERVISE_MAX_ATTEMPTS)
		strbuf_addf(out, SUPERVISION_GAVE_UP " after %d attempts", m->failures);
	else if (now < m->next_attempt)
		strbuf_addf(out, "restarting (attempt %d of %d, next in %ld s)", m->failures + 1,
			    SUPERVISE_MAX_ATTEMPTS, (long)(m->next_attempt - now));
	else
		strbuf_adds(out, "failed, restart due");
}
