/* INI parse results as messages (see ini.h). */
#include "daemon/ini.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/log.h"

hermes_err hm_ini_result(int r, const char *file, char *error, size_t cap)
{
	if (r == 0)
		return HERMES_OK;
	if (r == -1) {
		snprintf(error, cap, "%.300s: cannot read: %.100s", file ? file : "the file",
			 strerror(errno));
		return HERMES_EINVAL;
	}
	if (r < 0) {
		snprintf(error, cap, "out of memory while parsing");
		return HERMES_ENOMEM;
	}
	char why[512];
	snprintf(why, sizeof why, "%s", error[0] ? error : "syntax error");
	if (file)
		snprintf(error, cap, "%.200s:%d: %s", file, r, why);
	else
		snprintf(error, cap, "line %d: %s", r, why);
	return HERMES_EINVAL;
}

hermes_err hm_ini_load(const char *path, const char *text, ini_handler handler, void *user,
		       char *error, size_t cap)
{
	error[0] = '\0';
	int r = path ? ini_parse(path, handler, user) : ini_parse_string(text, handler, user);
	return hm_ini_result(r, path, error, cap);
}

bool hm_ini_log_level(const char *value, int *level, char *error, size_t cap)
{
	int l = hm_dlog_level_named(value);
	if (l < 0) {
		snprintf(error, cap, "log_level '%.100s' must be error, warn, info or debug", value);
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
