/* Internal helpers that set the thread-local error detail. */
#ifndef HM_ERROR_DETAIL_H
#define HM_ERROR_DETAIL_H

#include <hermes/error.h>

/* Record a formatted detail message and return err unchanged, so control-path
 * code can write `return hm_fail(HERMES_EINVAL, "capacity %u is ...", c);`.
 * An argument may be hermes_last_error_detail() itself, to put a caller's
 * context before a callee's reason. At most 511 bytes are kept. */
hermes_err hm_fail(hermes_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Map errno to a code and record "what path: strerror(errno)". */
hermes_err hm_fail_errno(const char *what, const char *path);

/* The one errno -> hermes_err mapping. */
hermes_err hm_errno_to_err(int e);

void hm_clear_detail(void);

#endif
