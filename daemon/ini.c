/* INI parse results as messages (see ini.h). */
#include "daemon/ini.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/log.h"

hermes_err hm_ini_result(int r, const char *file)
{
	if (r == 0)
		return HERMES_OK;
	if (r == -1)
		return hm_fail(HERMES_EINVAL, "%.300s: cannot read: %.100s", file ? file : "the file",
			       strerror(errno));
	if (r < 0)
		return hm_fail(HERMES_ENOMEM, "out of memory while parsing");
	const char *why = hermes_last_error_detail();
	if (!why[0])
		why = "syntax error";
	if (file)
		return hm_fail(HERMES_EINVAL, "%.200s:%d: %s", file, r, why);
	return hm_fail(HERMES_EINVAL, "line %d: %s", r, why);
}

/* The caller's handler until it first fails; then nothing more is handled,
 * so the detail it left stays that of the line libinih reports. */
typedef struct first_failure {
	ini_handler handler;
	void *user;
	bool failed;
} first_failure;

static int until_first_failure(void *user, const char *section, const char *key,
			       const char *value)
{
	first_failure *f = user;
	if (f->failed)
		return 0;
	f->failed = !f->handler(f->user, section, key, value);
	return !f->failed;
}

hermes_err hm_ini_load(const char *path, const char *text, ini_handler handler, void *user)
{
	first_failure f = {.handler = handler, .user = user};
	hm_clear_detail();
	int r = path ? ini_parse(path, until_first_failure, &f)
		     : ini_parse_string(text, until_first_failure, &f);
	return hm_ini_result(r, path);
}

bool hm_ini_log_level(const char *value, int *level)
{
	int l = hm_dlog_level_named(value);
	if (l < 0) {
		(void)hm_fail(HERMES_EINVAL, "log_level '%.100s' must be error, warn, info or debug",
			      value);
		return false;
	}
	*level = l;
	return true;
}

bool hm_ini_choose(const char *name, const hm_ini_choice *choices, size_t n, unsigned *out)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, choices[i].name)) {
			*out = choices[i].value;
			return true;
		}
	return false;
}

bool hm_ini_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcmp(value, yes[i]) || !strcmp(value, no[i])) {
			*out = !strcmp(value, yes[i]);
			return true;
		}
	}
	return false;
}
