/*
 * agent/provision/render.h: rendering templates/ and units/ into configuration files.
 *
 * A template is the file's text with {{name}} placeholders (name: lower-case
 * letters, digits, '_'), each replaced by a value from a render_vars list.
 * There is no escape and no logic: a placeholder whose name is not in the list,
 * a "{{" with no "}}" on its line, or a value that spans lines fails the render
 * with FILE:LINE, so a typo in a template or a missing variable never installs
 * a half-rendered file.  Each value must also match its placeholder's declared
 * type (render_value_valid), and in a unit file (*.service) a '%' of a value
 * is written '%%', so systemd never expands a specifier from a value.  Rendered files are written only when their bytes
 * differ, which is also the honest "changed" signal of plan and bootstrap.
 */
#ifndef CDC_RENDER_H
#define CDC_RENDER_H

#include "base/changes.h"
#include "base/common.h"
#include "base/util.h"

#include <sys/types.h>

struct render_var {
	char *name;
	char *value;
};

/* An ordered list of owned name/value pairs: render_vars_init/_fini. */
struct render_vars {
	struct render_var *items;
	size_t n;
};

void render_vars_init(struct render_vars *vars);
void render_vars_fini(struct render_vars *vars);
/* Copies name and value; a name already in the list gets the new value. */
void render_vars_add(struct render_vars *vars, const char *name, const char *value);
/* The value of name (borrowed from vars), NULL if absent. */
const char *render_vars_get(const struct render_vars *vars, const char *name);

/*
 * Whether value is what placeholder name may hold: every placeholder of
 * units/ and templates/ has a declared type (agent/provision/render.c,
 * placeholder_types), checked again at each render; a name with no declared
 * type is refused.  On false, err says why (without FILE:LINE).
 */
MUST_CHECK bool render_value_valid(const char *name, const char *value, struct strbuf *err);
/* Appends value to sb as systemd reads it literally in a unit file: every
 * '%' (a specifier: %h, %u, ...) doubled.  Applied to every value rendered
 * into units/, whatever its type (none lets a '%' through today). */
void render_unit_escape(const char *value, struct strbuf *sb);

/*
 * Renders template_path with vars into *out (NUL-terminated, caller frees).
 * Prints every error of the file (FILE:LINE: error: ...), not only the first.
 */
MUST_CHECK bool render_template(const char *template_path, const struct render_vars *vars,
				char **out);

/*
 * Renders template_path and compares the result with dest.  When they differ:
 * records "write DEST" for component in changes and, when apply is true,
 * writes dest atomically (file_write_if_changed: a new file gets mode, an
 * existing one keeps its owner and mode).  *changed says whether dest differs
 * (was written, or in plan mode would be).
 */
MUST_CHECK bool render_to_file(const char *template_path, const struct render_vars *vars,
			       const char *dest, mode_t mode, bool apply,
			       struct change_list *changes, const char *component, bool *changed);

/*
 * The directory holding templates/ and units/ (borrowed, valid until the next
 * call), NULL after logging where it looked.  In order: $CDC_AGENT_DATA_DIR
 * (only that, when set), the installed location <exe dir>/../share/cdc-agent,
 * then the executable's own directory (./cdc-agent run from the repository).
 */
MUST_CHECK const char *render_templates_dir(void);

#endif
