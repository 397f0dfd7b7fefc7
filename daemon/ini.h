/* INI loading with line errors for the daemons' configuration files
 * (hermes-bridge, hermes-nats, hermes-journal; they parse with libinih): one
 * way to turn a parse's result into a message a user can act on, and one
 * syntax for boolean values (hermesd's own reader uses it too). Not part of
 * libhermes-ipc. */
#ifndef HERMES_DAEMON_INI_H
#define HERMES_DAEMON_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <ini.h>

#include <hermes/error.h>

/* The result r of ini_parse, ini_parse_file or ini_parse_string as an error
 * in error[cap]:
 *   0: HERMES_OK, error untouched;
 *   a line number > 0: HERMES_EINVAL, what the handler left in error (or
 *     "syntax error" where it left nothing) after "FILE:LINE: " when file is
 *     given, else after "line LINE: ";
 *   -1 (the file could not be opened): HERMES_EINVAL, "FILE: cannot read:
 *     REASON" (errno);
 *   other negative values (out of memory): HERMES_ENOMEM. */
hermes_err hm_ini_result(int r, const char *file, char *error, size_t cap);

/* Parse the INI file at path, or with path NULL the string text, with
 * handler(user, ...), error[cap] cleared first: hm_ini_result of the parse
 * (so "PATH:LINE: why" or "line LINE: why"). */
hermes_err hm_ini_load(const char *path, const char *text, ini_handler handler, void *user,
		       char *error, size_t cap);

/* In a libinih handler (which returns 0 for an error) of a configuration
 * with a char error[] field: say why in it and fail. The daemons' config
 * readers define BAD(...) as HM_INI_FAIL(c->error, ...). */
#define HM_INI_FAIL(error, ...)                                   \
	do {                                                      \
		snprintf((error), sizeof(error), __VA_ARGS__);    \
		return 0;                                         \
	} while (0)

/* log_level = error|warn|info|debug (daemon/log.h's levels) into *level;
 * false with the reason in error[cap] for anything else. */
bool hm_ini_log_level(const char *value, int *level, char *error, size_t cap);

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
