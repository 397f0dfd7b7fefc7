/* Error strings and the thread-local detail message. */
#include "core/error_detail.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const char *text;
} err_table[HERMES_ERR_COUNT_] = {
	[HERMES_OK] = {"HERMES_OK", "success"},
	[HERMES_EAGAIN] = {"HERMES_EAGAIN", "would block: ring full or no message yet"},
	[HERMES_ETIMEDOUT] = {"HERMES_ETIMEDOUT", "timed out"},
	[HERMES_EINVAL] = {"HERMES_EINVAL", "invalid argument"},
	[HERMES_ENOMEM] = {"HERMES_ENOMEM", "out of memory"},
	[HERMES_ENOSPC] = {"HERMES_ENOSPC", "no space left in the segment"},
	[HERMES_ENOENT] = {"HERMES_ENOENT", "no such bus or ring"},
	[HERMES_EEXIST] = {"HERMES_EEXIST", "already exists"},
	[HERMES_EMSGSIZE] = {"HERMES_EMSGSIZE", "message larger than the ring's maximum"},
	[HERMES_ELOST] = {"HERMES_ELOST", "subscriber was lapped: messages lost"},
	[HERMES_EBADSEGMENT] = {"HERMES_EBADSEGMENT", "not a Hermes segment, or corrupt"},
	[HERMES_EVERSION] = {"HERMES_EVERSION", "segment layout version not supported"},
	[HERMES_ETRUNCATED] = {"HERMES_ETRUNCATED", "segment file is truncated"},
	[HERMES_ENOTREADY] = {"HERMES_ENOTREADY", "segment is still being initialised"},
	[HERMES_EACCES] = {"HERMES_EACCES", "permission denied"},
	[HERMES_ETOOMANY] = {"HERMES_ETOOMANY", "no free producer or subscriber slot"},
	[HERMES_ESYS] = {"HERMES_ESYS", "system call failed"},
	[HERMES_EBADMAGIC] = {"HERMES_EBADMAGIC", "bad frame magic"},
	[HERMES_EBADVERSION] = {"HERMES_EBADVERSION", "unsupported protocol version"},
	[HERMES_EBADTYPE] = {"HERMES_EBADTYPE", "unknown message type"},
	[HERMES_EBADFLAGS] = {"HERMES_EBADFLAGS", "reserved bits set"},
	[HERMES_ETOOBIG] = {"HERMES_ETOOBIG", "frame larger than the maximum"},
	[HERMES_ENEEDMORE] = {"HERMES_ENEEDMORE", "incomplete frame: need more bytes"},
	[HERMES_EHANDSHAKE] = {"HERMES_EHANDSHAKE", "message not allowed in this state"},
	[HERMES_ENOBUFS] = {"HERMES_ENOBUFS", "buffer too small"},
	[HERMES_ECLOSED] = {"HERMES_ECLOSED", "handle closed or ring deleted"},
	[HERMES_EPERM] = {"HERMES_EPERM", "not permitted"},
	[HERMES_ENOTSUP] = {"HERMES_ENOTSUP", "not supported by this build"},
	[HERMES_EBADPAYLOAD] = {"HERMES_EBADPAYLOAD", "malformed payload"},
	[HERMES_ENOSUPERVISOR] = {"HERMES_ENOSUPERVISOR", "no supervisor (hermesd) reachable for the bus"},
	[HERMES_EBUSY] = {"HERMES_EBUSY", "ring in use"},
	[HERMES_ECORRUPT] = {"HERMES_ECORRUPT", "corrupt record in shared memory (not delivered)"},
};

const char *hermes_strerror(hermes_err err)
{
	if ((unsigned)err >= HERMES_ERR_COUNT_)
		return "unknown error";
	return err_table[err].text;
}

const char *hermes_err_name(hermes_err err)
{
	if ((unsigned)err >= HERMES_ERR_COUNT_)
		return "HERMES_E?";
	return err_table[err].name;
}

/* Room for a configuration error: "FILE:LINE: " and a reason that may quote
 * a value or a path (the daemons' INI loaders, daemon/ini.h). */
static _Thread_local char detail[512];

const char *hermes_last_error_detail(void)
{
	return detail;
}

void hm_clear_detail(void)
{
	detail[0] = '\0';
}

hermes_err hm_fail(hermes_err err, const char *fmt, ...)
{
	/* Formatted aside first: an argument may be the detail itself, as in
	 * hm_fail(err, "%s: %s", what, hermes_last_error_detail()). */
	char text[sizeof detail];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	memcpy(detail, text, strlen(text) + 1);
	return err;
}

hermes_err hm_errno_to_err(int e)
{
	switch (e) {
	case 0:
		return HERMES_OK;
	case EAGAIN:
		return HERMES_EAGAIN;
	case ETIMEDOUT:
		return HERMES_ETIMEDOUT;
	case EINVAL:
		return HERMES_EINVAL;
	case ENOMEM:
		return HERMES_ENOMEM;
	case ENOSPC:
		return HERMES_ENOSPC;
	case ENOENT:
		return HERMES_ENOENT;
	case EEXIST:
		return HERMES_EEXIST;
	case EMSGSIZE:
		return HERMES_EMSGSIZE;
	case EACCES:
		return HERMES_EACCES;
	case EPERM:
		return HERMES_EPERM;
	case ENOBUFS:
		return HERMES_ENOBUFS;
	default:
		return HERMES_ESYS;
	}
}

hermes_err hm_fail_errno(const char *what, const char *path)
{
	int e = errno;
	return hm_fail(hm_errno_to_err(e), "%s %s: %s", what, path ? path : "", strerror(e));
}
