/*
 * tests/apply_values_driver.c: apply's conversion of one value to
 * PostgreSQL's text input (apply_event_value), for 83_apply_values.sh to
 * feed the result to a real server.
 *
 * Each stdin line: TYPE <TAB> LENGTH <TAB> SCALE <TAB> FIELD_SCHEMA <TAB>
 * VALUE, where TYPE is the target column's base type ("numeric"), LENGTH
 * and SCALE its modifiers (-1: none), FIELD_SCHEMA the field's Connect
 * schema as JSON or "-" for none, VALUE the JSON value.  Each stdout line:
 * "OK <TAB> text" or "ERR <TAB> why".
 */
#include "apply/apply_event.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	struct apply_event ev;
	struct strbuf why, out;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	apply_event_init(&ev);
	strbuf_init(&why);
	strbuf_init(&out);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *fields[5], *p = line, *record;
		struct column_schema col = { .name = "v", .type_sql = "", .length = -1, .scale = -1 };
		enum apply_value kind;
		int i;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		for (i = 0; i < 5 && p; i++) {
			fields[i] = p;
			p = i < 4 ? strchr(p, '\t') : NULL;
			if (p)
				*p++ = '\0';
		}
		if (i < 5) {
			fprintf(stderr, "apply_values_driver: a line with fewer than 5 fields\n");
			rc = 2;
			break;
		}
		col.base_type = fields[0];
		col.length = atoi(fields[1]);
		col.scale = atoi(fields[2]);
		if (strcmp(fields[3], "-") == 0)
			record = xasprintf("{\"before\":null,\"after\":{\"v\":%s},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}",
					   fields[4]);
		else
			record = xasprintf("{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"fields\":[%s],\"optional\":true,\"field\":\"after\"}],\"optional\":false,\"name\":\"x.Envelope\"},"
					   "\"payload\":{\"before\":null,\"after\":{\"v\":%s},\"source\":{\"schema\":\"public\",\"table\":\"t\"},\"op\":\"c\"}}",
					   fields[3], fields[4]);
		why.len = 0;
		why.data[0] = '\0';
		if (!apply_event_parse(NULL, 0, record, strlen(record), NULL, 0, NULL, 0, &ev, &why) ||
		    ev.nfields != 1)
			printf("ERR\trecord: %s\n", why.data);
		else if (apply_event_value(&ev.fields[0], &col, &out, &kind, &why))
			printf("OK\t%s\n", kind == APPLY_VALUE_NULL ? "NULL" : out.data);
		else
			printf("ERR\t%s\n", why.data);
		free(record);
	}
	free(line);
	strbuf_fini(&why);
	strbuf_fini(&out);
	apply_event_fini(&ev);
	return rc;
}
