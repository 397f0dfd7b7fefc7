/* The supervisor's control protocol: fixed-size request and response packets
 * over a SOCK_SEQPACKET Unix socket (<run_dir>/<bus>.sock). Local only, so
 * host byte order; versioned by the magic.
 *
 * A client keeps its connection for as long as it is attached: the
 * supervisor learns its pid and uid from SO_PEERCRED, holds a pidfd for it,
 * and learns from SLOT which ring slots the process holds; when the
 * connection hangs up and the pidfd reports the process gone, it frees them.
 * Requests: HELLO (attach handshake), NAME (who it is), CREATE and DELETE a
 * ring, LIST rings, CLIENTS, NAMES, SLOT. Each gets one response. */
#ifndef HM_CONTROL_H
#define HM_CONTROL_H

#include <stdint.h>
#include <sys/types.h>

#include <hermes/bus.h>

#include "shm/layout.h"

#define HM_CTL_MAGIC 0x31544348u /* "HCT1" */
#define HM_CTL_MAX_CLIENTS 64u

enum hm_ctl_op {
	HM_CTL_HELLO = 1,
	HM_CTL_CREATE = 2,
	HM_CTL_DELETE = 3,
	HM_CTL_LIST = 4,
	HM_CTL_CLIENTS = 5,
	/* This connection's process holds a producer or subscriber slot:
	 * slots = ring directory index, policy = slot index, capacity = the
	 * owner value it stored there (its pid as it sees it), flags
	 * HM_CTL_SUB for a subscriber slot. hermesd frees the slot when the
	 * kernel says the process died, never on the pid alone. */
	HM_CTL_SLOT = 6,
	/* Who this connection's process is: name holds its application name
	 * and instance id (shm/app_name.h, hm_app_pack), checked by hermesd,
	 * which shows them instead of the process name. Sent after HELLO. */
	HM_CTL_NAME = 7,
	/* The name and instance of each connected client (u.labels): a request
	 * of its own so that CLIENTS keeps its records for older hermes-ctl. */
	HM_CTL_NAMES = 8,
};

enum hm_ctl_flags {
	HM_CTL_FORCE = 1u, /* DELETE: even while in use */
	HM_CTL_SUB = 2u,   /* SLOT: a subscriber slot */
};

typedef struct hm_ctl_req {
	uint32_t magic;
	uint32_t op;
	uint32_t flags;
	uint32_t policy;
	uint64_t capacity;
	uint32_t max_msg;
	uint32_t slots;
	char name[HM_NAME_MAX];
} hm_ctl_req;

typedef struct hm_ctl_client {
	int32_t pid;
	uint32_t uid;
	uint64_t since_realtime_ns;
	char comm[16];
} hm_ctl_client;

typedef struct hm_ctl_label {
	int32_t pid;
	uint32_t reserved;
	char app[HERMES_APP_NAME_MAX + 1];	 /* NUL-terminated */
	char instance[HERMES_APP_INSTANCE_MAX + 1]; /* NUL-terminated, "" for none */
} hm_ctl_label;

static_assert(sizeof(hm_ctl_label) == 56, "control client label size");
static_assert(HERMES_APP_NAME_MAX + HERMES_APP_INSTANCE_MAX + 2 == HM_NAME_MAX,
	      "a name and an instance fill a request's name field");

typedef struct hm_ctl_resp {
	uint32_t magic;
	uint32_t op;
	int32_t err; /* hermes_err */
	uint32_t count;
	char detail[240];
	union {
		char names[HM_MAX_RINGS][HM_NAME_MAX];
		hm_ctl_client clients[HM_CTL_MAX_CLIENTS];
		hm_ctl_label labels[HM_CTL_MAX_CLIENTS];
	} u;
} hm_ctl_resp;

static_assert(sizeof(hm_ctl_req) == 80, "control request size");

/* Connect to the control socket at path: HERMES_OK with the connection in
 * *fd, or HERMES_ENOSUPERVISOR with *fd = -1 and the detail "cannot connect
 * to PATH: REASON" when no supervisor can be reached there (nobody listens,
 * the path is too long for a socket address, no socket could be made). */
hermes_err hm_ctl_connect(const char *path, int *fd);

/* The pid (in our PID namespace, from the kernel: SO_PEERCRED) of the
 * process listening on a control socket, or 0 when nobody answers. */
pid_t hm_ctl_peer_pid(const char *path);

/* Send req and wait up to timeout_ms for the response. Returns HERMES_OK when
 * a response arrived (its own err field says how the request went),
 * HERMES_ENOSUPERVISOR when the connection is gone, HERMES_ETIMEDOUT. */
hermes_err hm_ctl_call(int fd, const hm_ctl_req *req, hm_ctl_resp *resp, int timeout_ms);

#endif
