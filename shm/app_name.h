/* Client names: the application name and instance id a process attaches
 * with (hermes_attach_opts), which hermesd's logs, `hermes-ctl clients`,
 * `inspect` and the metrics show instead of the kernel's 15-byte process
 * name. The one check of them, for the library (the caller's and the
 * environment's values) and for hermesd and hermes-ctl (what another process
 * sent: hostile until checked here).
 *
 * A valid name or instance is UTF-8 (core/utf8.h) of printable characters
 * without spaces, '=', '"' or '\' (so it stands unquoted as a key=value log
 * field and a Prometheus label value); a name is 1..HERMES_APP_NAME_MAX
 * bytes, an instance 0..HERMES_APP_INSTANCE_MAX (0: none). */
#ifndef HM_APP_NAME_H
#define HM_APP_NAME_H

#include <stddef.h>

#include <hermes/bus.h>

/* Buffer sizes, the NUL included. */
#define HM_APP_NAME_SIZE (HERMES_APP_NAME_MAX + 1)
#define HM_APP_INSTANCE_SIZE (HERMES_APP_INSTANCE_MAX + 1)

/* Check `s` (NUL-terminated) as a name (instance 0) or an instance id
 * (instance 1). HERMES_OK, or HERMES_EINVAL with a detail that starts with
 * `what` (e.g. "app_name" or "HERMES_APP_NAME") and says what is wrong. */
hermes_err hm_app_label_check(const char *what, const char *s, int instance);

/* The default name of this process: its program name (argv[0] without the
 * directory, not cut to 15 bytes as the kernel's is) made valid: each byte a
 * name may not hold becomes '_', cut to HERMES_APP_NAME_MAX bytes on a
 * character boundary. */
void hm_app_default_name(char buf[HM_APP_NAME_SIZE]);

/* A name and instance packed into the 48-byte name field of a control
 * request (the name NUL-padded in the first HM_APP_NAME_SIZE bytes, the
 * instance in the last HM_APP_INSTANCE_SIZE), and back. hm_app_unpack checks
 * both with hm_app_label_check; on failure the outputs are empty. */
void hm_app_pack(char field[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE], const char *name,
		 const char *instance);
hermes_err hm_app_unpack(const char field[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE],
			 char name[HM_APP_NAME_SIZE], char instance[HM_APP_INSTANCE_SIZE]);

#endif
