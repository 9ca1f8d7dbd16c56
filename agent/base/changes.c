/*
 * agent/base/changes.c: the list of changes plan would make / bootstrap made.
 */
#include "base/changes.h"

#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void change_list_init(struct change_list *list, bool apply, bool print)
{
	list->items = NULL;
	list->n = 0;
	list->apply = apply;
	list->print = print;
}

void change_list_fini(struct change_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].component);
		free(list->items[i].action);
	}
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

void change_record(struct change_list *list, const char *component, const char *fmt, ...)
{
	struct change *c;
	va_list ap;

	list->items = xrealloc(list->items, (list->n + 1) * sizeof(*list->items));
	c = &list->items[list->n++];
	c->component = xstrdup(component);
	va_start(ap, fmt);
	c->action = xvasprintf(fmt, ap);
	va_end(ap);
	if (list->print) {
		printf("%s: %s%s\n", c->component, list->apply ? "changed: " : "", c->action);
		fflush(stdout);
	}
}
