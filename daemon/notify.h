/* systemd readiness notification (sd_notify without libsystemd): one
 * datagram to $NOTIFY_SOCKET. Shared by the daemons (hermesd, hermes-bridge,
 * hermes-nats, hermes-journal); not part of libhermes-ipc. */
#ifndef HERMES_DAEMON_NOTIFY_H
#define HERMES_DAEMON_NOTIFY_H

#include <hermes/error.h>

/* Send msg (e.g. "READY=1\nSTATUS=...") to $NOTIFY_SOCKET, a path or an
 * abstract name ('@...'). HERMES_OK when sent or when no notification
 * socket is configured (not run by systemd); else the error of the send,
 * with "sd_notify failed: REASON" in the detail (the caller logs it:
 * readiness is advisory). */
hermes_err hm_notify(const char *msg);

/* Readiness: "READY=1", with a "STATUS=status" line when status is not NULL.
 * A failure is logged as a warning (daemon/log.h), not returned: readiness
 * is advisory. */
void hm_notify_ready(const char *status);

#endif
