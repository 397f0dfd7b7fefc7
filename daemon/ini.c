/* INI parse results as messages (see ini.h). */
#include "daemon/ini.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
