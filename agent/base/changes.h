/*
 * agent/base/changes.h: the list of changes plan would make / bootstrap made.
 *
 * Every provisioning step inspects the server, and for each difference calls
 * change_record(); in plan mode that is all, in apply mode the step then
 * makes the change.  The list is both the report and the "changed" signal.
 */
#ifndef CDC_CHANGES_H
#define CDC_CHANGES_H

#include "base/common.h"

struct change {
	char *component;   /* "source db1" */
	char *action;      /* "create role cdc_user (LOGIN REPLICATION)" */
};

struct change_list {
	struct change *items;
	size_t n;
	bool apply;        /* bootstrap (true) or plan (false) */
	bool print;        /* print each change as it is recorded */
};

void change_list_init(struct change_list *list, bool apply, bool print);
void change_list_fini(struct change_list *list);
void change_record(struct change_list *list, const char *component, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

#endif
