/*
 * agent/config/topo_doc.c: cdc-agent.ini(5)'s sections and keys in roff,
 * from the schema tables.  Type, range, allowed values, default and
 * requiredness are the table's own fields; only the sentences are the
 * description's.
 */
#include "config/topo_doc.h"

#include "base/log.h"
#include "config/topo_values.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

/* Text as roff reads it: a backslash printed as one, '-' as the ASCII
 * minus (`\-`: options and values copy as typed), a '.' or '\'' that
 * would start a line made text, `code` in bold and never hyphenated, and
 * a new line after a sentence's end, as roff wants (its spacing). */
static void roff_text(FILE *out, const char *text, bool line_start)
{
	bool bold = false;

	for (const char *p = text; *p; p++) {
		if (line_start && (*p == '.' || *p == '\''))
			fputs("\\&", out);
		line_start = false;
		switch (*p) {
		case '\\':
			fputs("\\e", out);
			break;
		case '-':
			fputs("\\-", out);
			break;
		case '`':
			fputs(bold ? "\\fR" : "\\fB\\%", out);
			bold = !bold;
			break;
		case '.':
			fputc('.', out);
			/* not "...": an ellipsis ends no sentence */
			if (p[1] == ' ' && p[2] && (p == text || p[-1] != '.')) {
				fputc('\n', out);
				p++;
				line_start = true;
			}
			break;
		case '\n':
			fputc(' ', out);
			break;
		default:
			fputc(*p, out);
		}
	}
	if (bold)
		fputs("\\fR", out);
}

static void roff_bold(FILE *out, const char *text)
{
	fputs("\\fB\\%", out);
	roff_text(out, text, false);
	fputs("\\fR", out);
}

/* A size in bytes as the topology writes it: the largest of PostgreSQL's
 * units that divides it. */
static void size_text(FILE *out, int64_t bytes)
{
	static const char *const units[] = { "TB", "GB", "MB", "kB" };

	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		int64_t unit = (int64_t)1 << (10 * (ARRAY_LEN(units) - i));

		if (bytes > 0 && bytes % unit == 0) {
			fprintf(out, "\\fB%" PRId64 "%s\\fR", bytes / unit, units[i]);
			return;
		}
	}
	fprintf(out, "\\fB%" PRId64 "B\\fR", bytes);
}

/* What the value is, from the key's type and bounds.  No default: a type
 * added to enum value_type without its text fails the build (-Wswitch). */
static void type_text(FILE *out, const struct key_spec *key)
{
	switch (key->type) {
	case V_STRING:
		fputs("text", out);
		return;
	case V_INT:
		fprintf(out, "an integer from %d to %d", key->min, key->max);
		return;
	case V_PORT:
		fputs("a TCP port, 1 to 65535", out);
		return;
	case V_BOOL:
		fputs("a boolean: true or false (yes/no, on/off, 1/0)", out);
		return;
	case V_ENUM:
		fputs(key->n_enum_values == 2 ? "either " : "one of ", out);
		for (size_t i = 0; i < key->n_enum_values; i++) {
			if (i > 0)
				fputs(i + 1 == key->n_enum_values ? " or " : ", ", out);
			roff_bold(out, key->enum_values[i]);
		}
		return;
	case V_HOST:
		fputs("a host name, an IP address, or the absolute path of a socket directory",
		      out);
		return;
	case V_ADDRESS:
		fputs("a host name or an IP address", out);
		return;
	case V_PG_NAME:
		fprintf(out, "a plain PostgreSQL identifier: a\\-z, 0\\-9, _ and $, not starting "
			"with a digit, at most %d bytes", PG_NAME_MAX);
		return;
	case V_SLOT:
		fprintf(out, "a replication slot name: a\\-z, 0\\-9 and _, at most %d bytes",
			PG_NAME_MAX);
		return;
	case V_TABLES:
		fputs("a comma\\-separated list of tables, patterns and exclusions (see TABLES)",
		      out);
		return;
	case V_ABS_PATH:
		fputs("an absolute, normalized path of A\\-Z a\\-z 0\\-9 . _ + \\- and /", out);
		return;
	case V_HEAP:
		fputs("a JVM heap size: digits with an optional k, m or g", out);
		return;
	case V_SECRET_FILE:
		fputs("the absolute path of a file only its owner can read", out);
		return;
	case V_SECRET_FILE_NEW:
		fputs("the absolute path of a file only its owner can read, or of one to make",
		      out);
		return;
	case V_CERT_FILE:
		fputs("the absolute path of a readable file (PEM)", out);
		return;
	case V_KEY_FILE:
		fputs("the absolute path of a private key (PEM) only its owner can read", out);
		return;
	case V_URL:
		fputs("an http://, https:// or file:// URL", out);
		return;
	case V_SHA512:
		fputs("128 hexadecimal digits", out);
		return;
	case V_HOSTPORTS:
		fputs("a comma\\-separated list of host:port", out);
		return;
	case V_CIDRS:
		fputs("a comma\\-separated list of address/prefix", out);
		return;
	case V_TOPIC_PART:
		fputs("text of the characters Kafka allows in topic names: a\\-z A\\-Z 0\\-9 . _ "
		      "\\-", out);
		return;
	case V_UNIT:
		fputs("a systemd service name (.service appended if missing)", out);
		return;
	case V_LISTEN:
		fputs("a loopback IP:port, or off", out);
		return;
	case V_SIZE:
		if (key->min < 0)
			fputs("\\fB\\-1\\fR or ", out);
		fputs("a size: digits and a unit, B, kB, MB, GB or TB", out);
		if (key->min > 0 && key->max > 0) {
			fputs(", from ", out);
			size_text(out, key->min);
			fputs(" to ", out);
			size_text(out, key->max);
		} else if (key->min > 0) {
			fputs(", at least ", out);
			size_text(out, key->min);
		}
		return;
	}
}

static bool described(const char *text)
{
	return text && text[0];
}

static void key_roff(FILE *out, const struct key_spec *key)
{
	fputs(".TP\n.B ", out);
	roff_text(out, key->name, false);
	fputc('\n', out);
	roff_text(out, key->description, true);
	fputs("\n.br\n\\fIValue:\\fR ", out);
	type_text(out, key);
	if (key->required)
		fputs("; \\fIrequired\\fR.\n", out);
	else if (key->default_value) {
		fputs("; \\fIdefault:\\fR ", out);
		roff_bold(out, key->default_value);
		fputs(".\n", out);
	} else
		fputs("; \\fIdefault:\\fR unset.\n", out);
}

bool topo_doc_roff_sections(FILE *out, const struct topo_schema_section *sections, size_t n)
{
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		const struct topo_schema_section *sec = &sections[i];

		if (!described(sec->description)) {
			log_error("schema: section [%s] has no description", sec->kind);
			ok = false;
		}
		for (size_t k = 0; k < sec->n_keys; k++)
			if (!described(sec->keys[k].description)) {
				log_error("schema: [%s] %s has no description (topology.c)",
					  sec->kind, sec->keys[k].name);
				ok = false;
			}
	}
	if (!ok)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct topo_schema_section *sec = &sections[i];

		fprintf(out, ".SS \"[%s%s]\"\n", sec->kind, sec->named ? " \\fINAME\\fP" : "");
		roff_text(out, sec->description, true);
		fputc('\n', out);
		for (size_t k = 0; k < sec->n_keys; k++)
			key_roff(out, &sec->keys[k]);
	}
	if (fflush(out) != 0 || ferror(out)) {
		log_error("schema: cannot write the manual's keys");
		return false;
	}
	return true;
}

bool topo_doc_roff(FILE *out)
{
	struct topo_schema_section sections[16];
	size_t n = 0;

	while (n < ARRAY_LEN(sections) && topology_schema_section(n, &sections[n]))
		n++;
	if (n == ARRAY_LEN(sections)) {
		log_error("schema: more sections than topo_doc_roff holds");
		return false;
	}
	return topo_doc_roff_sections(out, sections, n);
}
