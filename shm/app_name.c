/* Client names (see app_name.h). */
#include "shm/app_name.h"

#include <errno.h>
#include <string.h>

#include "core/error_detail.h"
#include "core/utf8.h"

/* May byte c (of an ASCII character) stand in a name? Spaces, '=' and
 * quotes would end or break a key=value field; controls a log line. */
static int ascii_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '=' && c != '"' && c != '\\';
}

/* Bytes of the acceptable character at p (avail > 0), or 0. Beyond ASCII:
 * well-formed UTF-8 except the C1 controls (U+0080..U+009F). */
static size_t char_ok(const unsigned char *p, size_t avail)
{
	if (p[0] < 0x80)
		return ascii_ok(p[0]) ? 1 : 0;
	size_t n = hm_utf8_char(p, avail);
	if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
		return 0;
	return n;
}

hermes_err hm_app_label_check(const char *what, const char *s, int instance)
{
	size_t max = instance ? HERMES_APP_INSTANCE_MAX : HERMES_APP_NAME_MAX;
	if (!s)
		return hm_fail(HERMES_EINVAL, "%s is NULL", what);
	size_t len = strlen(s);
	if ((!instance && len == 0) || len > max)
		return hm_fail(HERMES_EINVAL, "%s '%.*s' must be %d..%zu bytes", what,
			       (int)hm_utf8_prefix(s, len < 64 ? len : 64), s, instance ? 0 : 1, max);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = char_ok(p + i, len - i);
		if (!n)
			return hm_fail(HERMES_EINVAL,
				       "%s: byte %zu (0x%02x) is not allowed: printable UTF-8 "
				       "without spaces, '=', '\"' or '\\'",
				       what, i, p[i]);
		i += n;
	}
	return HERMES_OK;
}

void hm_app_default_name(char buf[HM_APP_NAME_SIZE])
{
	const char *prog = program_invocation_short_name;
	size_t len = prog ? strlen(prog) : 0, out = 0;
	const unsigned char *p = (const unsigned char *)prog;
	for (size_t i = 0; i < len && out < HERMES_APP_NAME_MAX;) {
		size_t n = char_ok(p + i, len - i);
		if (!n) {
			buf[out++] = '_';
			i++;
			continue;
		}
		if (out + n > HERMES_APP_NAME_MAX)
			break; /* never half a character */
		memcpy(buf + out, p + i, n);
		out += n;
		i += n;
	}
	if (out == 0)
		memcpy(buf, "client", (out = 6));
	buf[out] = '\0';
}

void hm_app_pack(char field[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE], const char *name,
		 const char *instance)
{
	memset(field, 0, HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE);
	size_t n = strnlen(name, HERMES_APP_NAME_MAX);
	memcpy(field, name, n);
	n = instance ? strnlen(instance, HERMES_APP_INSTANCE_MAX) : 0;
	memcpy(field + HM_APP_NAME_SIZE, instance, n);
}

hermes_err hm_app_unpack(const char field[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE],
			 char name[HM_APP_NAME_SIZE], char instance[HM_APP_INSTANCE_SIZE])
{
	/* Fixed places: the name in the first 32 bytes, the instance in the last
	 * 16, each NUL-terminated inside its place. */
	char n[HM_APP_NAME_SIZE], in[HM_APP_INSTANCE_SIZE];
	memcpy(n, field, sizeof n);
	memcpy(in, field + HM_APP_NAME_SIZE, sizeof in);
	name[0] = instance[0] = '\0';
	if (!memchr(n, '\0', sizeof n) || !memchr(in, '\0', sizeof in))
		return hm_fail(HERMES_EINVAL, "client name or instance not terminated");
	hermes_err err = hm_app_label_check("client name", n, 0);
	if (!err)
		err = hm_app_label_check("client instance", in, 1);
	if (err)
		return err;
	memcpy(name, n, sizeof n);
	memcpy(instance, in, sizeof in);
	return HERMES_OK;
}
