/*
 * agent/config/topo_doc.h: the sections and keys of cdc-agent.ini(5), in
 * roff, from the schema tables (topology.c), so the manual cannot drift
 * from what the loader takes.  `make man` runs the hidden verb `cdc-agent
 * schema-roff` and puts its output between the hand-written header and
 * footer of docs/man/cdc-agent.ini.5.in.
 */
#ifndef CDC_TOPO_DOC_H
#define CDC_TOPO_DOC_H

#include "base/common.h"
#include "config/topology.h"

#include <stddef.h>
#include <stdio.h>

/* Writes sections[0..n) to out: per section a `.SS "[kind]"` heading (`[kind
 * NAME]` when named) and its description; per key a `.TP` entry whose tag
 * line is `.B key`, then its description and a line with its type (range or
 * allowed values) and its default, or "required".  False, logged, when a
 * section or key has no description: such output is not a manual. */
MUST_CHECK bool topo_doc_roff_sections(FILE *out, const struct topo_schema_section *sections,
				       size_t n);

/* The same for the topology's schema (topology_schema_section). */
MUST_CHECK bool topo_doc_roff(FILE *out);

#endif
