/* INI loading with line errors for the daemons' configuration files
 * (hermes-bridge, hermes-nats, hermes-journal; they parse with libinih): one
 * way to turn a parse's result into a message a user can act on, and one
 * syntax for boolean values (hermesd's own reader uses it too). Not part of
 * libhermes-ipc. */
#ifndef HERMES_DAEMON_INI_H
#define HERMES_DAEMON_INI_H

#include <stdbool.h>
#include <stddef.h>

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

/* A boolean value: true, yes, on or 1, or false, no, off or 0; false (and
 * *out untouched) for anything else. */
bool hm_ini_bool(const char *value, bool *out);

#endif
