/*
 * tests/status_http_driver.c: serves agent/status/status_http.c's endpoints with a
 * canned status document, for tests/integration/93_status_http.sh (the
 * endpoints without the rest of `cdc-agent run`: no PostgreSQL, Kafka or
 * systemd needed).
 *
 *   status_http_driver LISTEN DOC.json
 *
 * Listens on LISTEN ("127.0.0.1:PORT", "[::1]:PORT"), publishes DOC.json,
 * prints "ready" on stdout, serves until SIGTERM or SIGINT, then stops the
 * server (its log lines, refusal summaries included, go to stderr) and
 * exits 0.
 */
#include "base/log.h"
#include "status/status_http.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct status_http *h;
	json_error_t jerr;
	json_t *doc;
	sigset_t stop;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: status_http_driver LISTEN DOC.json\n");
		return 2;
	}
	doc = json_load_file(argv[2], 0, &jerr);
	if (!doc) {
		log_error_at(argv[2], jerr.line, "%s", jerr.text);
		return 1;
	}
	/* Blocked before the server's threads start, so that they inherit the mask
	 * and the signal reaches sigwait below. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (!status_http_start(argv[1], &h)) {
		json_decref(doc);
		return 1; /* errors already logged */
	}
	status_http_publish(h, doc);
	printf("ready\n");
	fflush(stdout);
	sigwait(&stop, &sig);
	status_http_stop(h);
	return 0;
}
