/* Hermes error codes: one enum for the whole library.
 *
 * Every public function that can fail returns a hermes_err. HERMES_OK is 0, so
 * `if (err)` reads naturally. Codes are stable (they may appear in logs and on
 * the wire as error-frame codes), so new ones are only ever appended.
 *
 * Control-path functions (attach, create, open) may also leave a thread-local
 * detail message, readable with hermes_last_error_detail(), that names the path
 * or value that was wrong. The hot path (claim, commit, poll) returns codes only.
 */
#ifndef HERMES_ERROR_H
#define HERMES_ERROR_H

#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hermes_err {
	HERMES_OK = 0,
	/* Nothing to do right now: a block ring is full (publish) or a ring has
	 * no new message (poll). Retry later, or use a timed variant. */
	HERMES_EAGAIN = 1,
	/* A timed operation reached its deadline. */
	HERMES_ETIMEDOUT = 2,
	/* An argument is out of range or inconsistent; nothing was changed. */
	HERMES_EINVAL = 3,
	/* Memory could not be allocated (control path only). */
	HERMES_ENOMEM = 4,
	/* The segment has no room left for another ring or slot. */
	HERMES_ENOSPC = 5,
	/* No bus, ring or file of that name. */
	HERMES_ENOENT = 6,
	/* A bus or ring of that name already exists. */
	HERMES_EEXIST = 7,
	/* A message is larger than the ring's maximum message size. */
	HERMES_EMSGSIZE = 8,
	/* A subscriber of an overwrite ring was lapped: messages were lost. The
	 * count is reported alongside; the next poll returns the oldest message
	 * still in the ring. */
	HERMES_ELOST = 9,
	/* The segment is not a Hermes segment (wrong magic) or is corrupt. */
	HERMES_EBADSEGMENT = 10,
	/* The segment was made by an incompatible layout version. */
	HERMES_EVERSION = 11,
	/* The segment file is shorter than its header says. */
	HERMES_ETRUNCATED = 12,
	/* The segment exists but its creator has not finished initialising it;
	 * retry shortly. */
	HERMES_ENOTREADY = 13,
	/* The caller is not allowed to open the segment or socket. */
	HERMES_EACCES = 14,
	/* All producer or subscriber slots of the ring are in use. */
	HERMES_ETOOMANY = 15,
	/* An operating-system call failed; the detail message names it. */
	HERMES_ESYS = 16,
	/* Wire protocol: the frame does not start with the Hermes magic. */
	HERMES_EBADMAGIC = 17,
	/* Wire protocol: unsupported protocol version. */
	HERMES_EBADVERSION = 18,
	/* Wire protocol: unknown message type. */
	HERMES_EBADTYPE = 19,
	/* Wire protocol: a reserved bit or field is not zero. */
	HERMES_EBADFLAGS = 20,
	/* Wire protocol: payload length exceeds the configured maximum. */
	HERMES_ETOOBIG = 21,
	/* Wire protocol: the buffer ends inside a frame; read more bytes. */
	HERMES_ENEEDMORE = 22,
	/* Wire protocol: a message type arrived in a state where it is not
	 * allowed (e.g. publish before hello). */
	HERMES_EHANDSHAKE = 23,
	/* An output buffer is too small for what was asked. */
	HERMES_ENOBUFS = 24,
	/* The handle was closed, or the ring was deleted. */
	HERMES_ECLOSED = 25,
	/* Authentication failed or a permission was refused. */
	HERMES_EPERM = 26,
	/* The operation needs a feature this build does not have. */
	HERMES_ENOTSUP = 27,
	/* Wire protocol: a payload is malformed for its message type. */
	HERMES_EBADPAYLOAD = 28,
	/* The operation needs the bus supervisor (hermesd) and none is
	 * reachable: start hermesd for the bus, or check HERMES_RUN_DIR. */
	HERMES_ENOSUPERVISOR = 29,
	/* The ring is in use (has publishers or subscribers); retry, or delete
	 * with force. */
	HERMES_EBUSY = 30,
	/* A record in shared memory failed validation (a corrupt slot word or
	 * length, an impossible position or loss). It is counted, never
	 * delivered; the detail names the ring and sequence. The subscriber has
	 * moved past it: poll again. Persistent corruption: recreate the ring. */
	HERMES_ECORRUPT = 31,

	HERMES_ERR_COUNT_ /* not a code: keep last */
} hermes_err;

/* A constant, human-readable string for err; never NULL. Thread-safe. */
HERMES_API const char *hermes_strerror(hermes_err err);

/* The short symbolic name of err ("HERMES_EAGAIN"); never NULL. */
HERMES_API const char *hermes_err_name(hermes_err err);

/* The detail message left by the last failing control-path call on this
 * thread (e.g. "shm_open /hermes.default: No such file or directory"), or ""
 * when there is none. Valid until the next Hermes call on this thread. */
HERMES_API const char *hermes_last_error_detail(void);

#ifdef __cplusplus
}
#endif

#endif
