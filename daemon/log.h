/* One log format for the daemons (hermesd, hermes-bridge, hermes-nats,
 * hermes-journal).
 *
 * Each message is one line on stderr, written with one write() so that lines
 * of several threads and processes never mix:
 *
 *   hermesd[1234]: warn: client gone, repairing ring=orders client=5678
 *
 * PROGRAM[PID]: LEVEL: then the message, which names what it is about with
 * key=value fields after the text (ring=NAME, client=APP-NAME, instance=ID,
 * pid=PID, bus=NAME, peer=ADDRESS; hm_dlog_kv builds them). When stderr is the systemd journal ($JOURNAL_STREAM names
 * it), the line starts with the syslog priority instead of PROGRAM[PID]
 * (journald records both itself):
 *
 *   <4>warn: client gone, repairing ring=orders client=5678
 *
 * so `journalctl -p err` and `-p warning` select by level. Levels are the
 * daemons' --log-level values; priorities: error 3, warn 4, info 6, debug 7.
 * Not part of libhermes-ipc: an application's stderr is its own.
 */
#ifndef HERMES_DAEMON_LOG_H
#define HERMES_DAEMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum { HM_DLOG_ERROR = 0, HM_DLOG_WARN = 1, HM_DLOG_INFO = 2, HM_DLOG_DEBUG = 3 };

/* The daemon's --log-level: messages above level are left out, and every
 * message when level < 0. Until a daemon sets it every level is written.
 * Set it before starting threads (it is read without a lock). */
void hm_dlog_set_level(int level);
int hm_dlog_level(void);

/* The level a --log-level / log_level value names ("error", "warn", "info",
 * "debug"), or -1 for anything else. */
int hm_dlog_level_named(const char *name);

/* Write one message at LEVEL (HM_DLOG_*) unless the --log-level leaves it
 * out. */
void hm_dlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hm_dlogv(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Format one line into buf (at most n bytes, NUL-terminated, ending in a
 * newline) as hm_dlog would write it; returns its length. journal: 1 for the
 * journal form. For tests and for daemons that log elsewhere. */
size_t hm_dlog_format(char *buf, size_t n, int journal, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* 1 when stderr is the journal: $JOURNAL_STREAM is "DEV:INODE" of stderr. */
int hm_dlog_stderr_is_journal(void);

/* The key=value fields at the end of a message, built once and passed as
 * "%s" (they start with a space):
 *
 *   hm_dlog_kv kv = {0};
 *   hm_dlog_str(&kv, "ring", name);
 *   hm_dlog_int(&kv, "pid", pid);
 *   log(HM_DLOG_INFO, "subscriber died; cursor released%s", kv.s);
 *
 * A value stands bare when it is not empty and holds no space, control byte,
 * '=', '"' or ''; otherwise it is quoted, with '"' and '' escaped by a ''
 * and control bytes as \n, \r, \t or \xHH, so every line splits into
 * fields the same way (logfmt). Fields that do not fit are left out whole. */
typedef struct hm_dlog_kv {
	char s[256];
	size_t len;
} hm_dlog_kv;

void hm_dlog_str(hm_dlog_kv *kv, const char *key, const char *value);
void hm_dlog_int(hm_dlog_kv *kv, const char *key, long long value);

/* hm_dlogv with the fields of kv after the message: for daemons' wrappers
 * that add the same fields to many lines (e.g. ring= for a ring's lines). */
void hm_dlogv_kv(int level, const hm_dlog_kv *kv, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* hm_dlogv of a line about a ring: ring=NAME after the message. */
void hm_dlogv_ring(int level, const char *ring, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void hm_dlog_ring(int level, const char *ring, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
