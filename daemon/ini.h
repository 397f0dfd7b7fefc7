/* INI loading with line errors for the daemons' configuration files
 * (hermes-bridge, hermes-nats, hermes-journal; they parse with libinih): one
 * way to turn a parse's result into a message a user can act on, and one
 * syntax for boolean values (hermesd's own reader uses it too). Not part of
 * libhermes-ipc. */
#ifndef HERMES_DAEMON_INI_H
#define HERMES_DAEMON_INI_H

#include <stdbool.h>
#include <stddef.h>

#include <ini.h>

#include <hermes/error.h>

#include "core/error_detail.h"

/* Errors follow the library's convention (docs/ARCHITECTURE.md, "Errors"):
 * a hermes_err, and the message a user reads in the thread-local detail
 * (hermes_last_error_detail()), set with hm_fail. */

/* The result r of ini_parse, ini_parse_file or ini_parse_string as an error:
 *   0: HERMES_OK, the detail untouched;
 *   a line number > 0: HERMES_EINVAL, the detail the handler left (or
 *     "syntax error" where it left none: clear it before the parse) after
 *     "FILE:LINE: " when file is given, else after "line LINE: ";
 *   -1 (the file could not be opened): HERMES_EINVAL, "FILE: cannot read:
 *     REASON" (errno);
 *   other negative values (out of memory): HERMES_ENOMEM. */
hermes_err hm_ini_result(int r, const char *file);

/* Parse the INI file at path, or with path NULL the string text, with
 * handler(user, ...): hm_ini_result of the parse (so "PATH:LINE: why" or
 * "line LINE: why"). The handler's first failure ends the handling (libinih
 * reads on, and reports the first failing line), and a syntax error on an
 * earlier line is reported as that: the reason and the line are always the
 * same entry's. */
hermes_err hm_ini_load(const char *path, const char *text, ini_handler handler, void *user);

/* In a libinih handler (which returns 0 for an error): say why in the
 * detail and fail. The daemons' config readers define BAD(...) as it. */
#define HM_INI_FAIL(...)                                  \
	do {                                              \
		(void)hm_fail(HERMES_EINVAL, __VA_ARGS__); \
		return 0;                                 \
	} while (0)

/* log_level = error|warn|info|debug (daemon/log.h's levels) into *level;
 * false with the reason in the detail for anything else. */
bool hm_ini_log_level(const char *value, int *level);

/* A boolean value: true, yes, on or 1, or false, no, off or 0; false (and
 * *out untouched) for anything else. */
bool hm_ini_bool(const char *value, bool *out);

/* One of the names a key takes ("none", "interval", "batch") and what it
 * stands for. */
typedef struct hm_ini_choice {
	const char *name;
	unsigned value;
} hm_ini_choice;

/* The value of the choice named name, of the n choices; false (and *out
 * untouched) for a name that is none of them. HM_INI_CHOOSE counts the
 * choices of an array. */
bool hm_ini_choose(const char *name, const hm_ini_choice *choices, size_t n, unsigned *out);
#define HM_INI_CHOOSE(name, choices, out) \
	hm_ini_choose((name), (choices), sizeof(choices) / sizeof((choices)[0]), (out))

#endif
