/* The daemons' signals (hermesd, hermes-bridge, hermes-nats,
 * hermes-journal): SIGTERM and SIGINT stop, SIGHUP reloads (where a daemon
 * can; the others log and ignore it), all three handled synchronously
 * (signalfd or sigtimedwait) rather than by handlers; SIGPIPE is ignored (a peer that
 * went away shows as EPIPE). Not part of libhermes-ipc. */
#ifndef HERMES_DAEMON_SIGNALS_H
#define HERMES_DAEMON_SIGNALS_H

#include <signal.h>

/* Block SIGTERM, SIGINT and SIGHUP in the calling thread (threads it
 * creates from then on inherit the mask), ignore SIGPIPE, and put the three
 * in *set (for sigtimedwait). Call it before starting threads. */
void hm_signals_block(sigset_t *set);

/* hm_signals_block, then a signalfd (close-on-exec, non-blocking) that
 * reads the three. -1 with errno when it cannot be made. */
int hm_signals_fd(void);

#endif
