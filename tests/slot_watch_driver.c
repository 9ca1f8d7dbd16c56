/*
 * tests/slot_watch_driver.c: prints slot_watch_collect's reports for
 * tests/integration/72_slot_watch.sh, one line each:
 *   source=S slot=N pipeline=P|- exists=0|1 active=0|1 retained=B lag=B
 *   wal_status=W|- safe=B warn=0|1 error=TEXT (the rest of the line)
 */
#include "base/log.h"
#include "config/topology.h"
#include "pg/slot_watch.h"

#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct topology *topo;
	struct slot_report *r;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s TOPOLOGY\n", argv[0]);
		return 64;
	}
	if (!topology_load(argv[1], &topo))
		return 3;
	if (!slot_watch_collect(topo, &r, &n)) {
		topology_free(topo);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("source=%s slot=%s pipeline=%s exists=%d active=%d retained=%" PRId64
		       " lag=%" PRId64 " wal_status=%s safe=%" PRId64 " warn=%d error=%s\n",
		       r[i].source, r[i].slot, r[i].pipeline ? r[i].pipeline : "-", r[i].exists,
		       r[i].active, r[i].retained_bytes, r[i].confirmed_lag_bytes,
		       r[i].wal_status[0] ? r[i].wal_status : "-", r[i].safe_wal_bytes, r[i].warn,
		       r[i].error ? r[i].error : "");
	slot_reports_free(r, n);
	topology_free(topo);
	return 0;
}
