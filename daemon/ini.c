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

/* Lines for libinih from a file or a string, counted as libinih counts them
 * (one per read), so a handler knows the number of the line it is called
 * for. */
typedef struct line_reader {
	FILE *f;	  /* or NULL: text */
	const char *text; /* what is left of it */
	int line;	  /* reads so far */
} line_reader;

static char *read_line(char *str, int num, void *stream)
{
	line_reader *lr = stream;
	if (lr->f) {
		if (!fgets(str, num, lr->f))
			return NULL;
	} else {
		if (!*lr->text || num < 2)
			return NULL;
		int n = 0;
		while (n < num - 1 && lr->text[n] && lr->text[n] != '\n')
			n++;
		if (n < num - 1 && lr->text[n] == '\n')
			n++;
		memcpy(str, lr->text, (size_t)n);
		str[n] = '\0';
		lr->text += n;
	}
	lr->line++;
	return str;
}

/* The caller's handler until it first fails; then nothing more is handled,
 * and the line it failed on is kept to tell it from an earlier syntax
 * error, which libinih reports instead (it reads on after either). */
typedef struct first_failure {
	ini_handler handler;
	void *user;
	const line_reader *lines;
	int failed_at; /* 0: no failure */
} first_failure;

static int until_first_failure(void *user, const char *section, const char *key,
			       const char *value)
{
	first_failure *f = user;
	if (f->failed_at)
		return 0;
	if (!f->handler(f->user, section, key, value))
		f->failed_at = f->lines->line;
	return !f->failed_at;
}

hermes_err hm_ini_load(const char *path, const char *text, ini_handler handler, void *user)
{
	line_reader lr = {.text = text ? text : ""};
	if (path && !(lr.f = fopen(path, "re")))
		return hm_ini_result(-1, path);
	first_failure f = {.handler = handler, .user = user, .lines = &lr};
	hm_clear_detail();
	int r = ini_parse_stream(read_line, &lr, until_first_failure, &f);
	if (lr.f)
		fclose(lr.f);
	/* A syntax error before the handler's failure: that line, and why. */
	if (r > 0 && f.failed_at && r < f.failed_at)
		hm_clear_detail();
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
