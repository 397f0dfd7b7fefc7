/* hermes-bridge configuration: an INI file (libinih), then flags.
 *
 *   [bridge]                 ; see hermes-bridge.conf.example for every key
 *   bus = default
 *   listen = 127.0.0.1:7400
 *   auth = /etc/hermes/bridge-auth.conf
 *   encrypt = required       ; required (default) | optional | off
 *   allow_anonymous = false  ; true: clients without an identity are served
 *   slow_policy = auto       ; auto | drop | disconnect | hold
 *   ...
 *   [ring orders]            ; per-ring overrides
 *   slow_policy = hold
 *   journal = /var/lib/hermes/journal/orders   ; resume remote subscribers from it
 *   [link west]              ; an outgoing link to another bridge
 *   connect = 10.0.0.2:7400
 *   rings = orders events:out quotes:in
 *
 * The auth file holds identities:
 *
 *   [identity sensor-7]
 *   key_file = keys/sensor-7.key   ; relative to the auth file
 *   publish = orders telemetry.*   ; ring patterns (fnmatch), or *
 *   subscribe = *
 *   slow_policy = drop             ; optional: this identity's connections
 *   hold = false                   ; may hold back a block ring's producers
 *   link = false                   ; may act as a link (origin-tagged publishes)
 *
 * Unknown sections and keys are errors, reported with their line. */
#ifndef HM_BRIDGE_CONFIG_H
#define HM_BRIDGE_CONFIG_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>
#include <hermes/protocol.h>

#define HM_BRIDGE_NAME_MAX 48 /* bus and ring names, with the NUL */
#define HM_BRIDGE_MAX_RINGCFG 64
#define HM_BRIDGE_MAX_LINKS 16
#define HM_BRIDGE_LINK_RINGS 32
#define HM_BRIDGE_PATTERNS 512

/* What the bridge does with a subscriber that cannot keep up
 * (PROTOCOL.md "Flow control"). AUTO: hold on block rings, drop on
 * overwrite rings, so each ring keeps its own reliability over TCP. */
typedef enum hm_slow_policy {
	HM_SLOW_AUTO = 0,
	HM_SLOW_DROP = 1,
	HM_SLOW_DISCONNECT = 2,
	HM_SLOW_HOLD = 3,
} hm_slow_policy;

typedef enum hm_encrypt_mode {
	HM_ENC_OFF = 0,	     /* never grant ENCRYPT */
	HM_ENC_OPTIONAL = 1, /* grant it when offered */
	HM_ENC_REQUIRED = 2, /* refuse connections that do not offer it */
} hm_encrypt_mode;

typedef struct hm_ident {
	char name[HERMES_WIRE_NAME_MAX + 1];
	uint8_t key[HERMES_AUTH_KEY_SIZE];
	char publish[HM_BRIDGE_PATTERNS];	/* space-separated fnmatch patterns */
	char subscribe[HM_BRIDGE_PATTERNS];
	hm_slow_policy slow;		/* AUTO: no preference */
	bool have_key;
	bool hold; /* may hold back producers (HOLD subscriptions) */
	bool have_public;			    /* public-key mode: key is unused */
	uint8_t public_key[HERMES_KX_PUBLIC_KEY_SIZE]; /* the identity's X25519 public key */
	bool link; /* may use the LINK feature (origin data is honoured) */
} hm_ident;

typedef struct hm_ring_cfg {
	char name[HM_BRIDGE_NAME_MAX];
	hm_slow_policy slow;
	/* The ring's journal directory (hermes-journal's `journal = DIR`), or
	 * "": a SUBSCRIBE at a sequence the ring no longer holds is served
	 * from it first (PROTOCOL.md "Resuming from the journal"). */
	char journal[512];
} hm_ring_cfg;

typedef struct hm_link_ring {
	char name[HM_BRIDGE_NAME_MAX];
	bool in;  /* import: subscribe there, publish here */
	bool out; /* export: subscribe here, publish there */
} hm_link_ring;

typedef struct hm_link_cfg {
	char name[64];
	char address[300];
	char identity[HERMES_WIRE_NAME_MAX + 1];
	char key_file[512];
	char server[HERMES_WIRE_NAME_MAX + 1]; /* "": any; else the peer's WELCOME name must match */
	bool have_server_key; /* public-key mode: the far bridge's pinned public key */
	uint8_t server_key[HERMES_KX_PUBLIC_KEY_SIZE];
	bool encrypt;	/* encryption explicitly required (needs key_file) */
	bool plaintext; /* explicit opt-out: authenticated but not encrypted */
	bool start_earliest; /* first connection: import from the oldest retained message */
	unsigned nrings;
	hm_link_ring rings[HM_BRIDGE_LINK_RINGS];
} hm_link_cfg;

typedef struct hm_bridge_cfg {
	char bus[HM_BRIDGE_NAME_MAX];
	char listen[300];
	char name[HERMES_WIRE_NAME_MAX + 1];
	char auth_file[512];
	char key_file[512]; /* the bridge's X25519 secret key (public-key mode) */
	uint8_t *secret;    /* loaded from key_file (hm_auth_secure_alloc), or NULL */
	uint8_t public_key[HERMES_KX_PUBLIC_KEY_SIZE];
	hm_encrypt_mode encrypt;
	bool encrypt_set; /* encrypt given explicitly */
	bool insecure;
	bool allow_anonymous; /* serve clients that do not authenticate */
	uint64_t bus_id; /* 0 = derive from host name and bus */
	hm_slow_policy slow;
	uint64_t out_buffer;
	uint32_t max_frame;
	unsigned max_connections;
	unsigned max_conns_per_address;	 /* from one IP address */
	unsigned max_conns_per_identity; /* of one identity (anonymous counts as one) */
	unsigned max_holds_per_identity; /* HOLD subscriptions of one identity, all connections */
	unsigned idle_timeout_ms;	 /* PING a silent session after half, close after all; 0 = never */
	uint64_t memory_limit;		 /* input buffers grown beyond the base, all connections */
	unsigned max_subscriptions; /* per connection */
	unsigned max_channels;	    /* per connection */
	unsigned handshake_timeout_ms;
	unsigned publish_timeout_ms;
	unsigned link_import_timeout_ms; /* 0 = wait forever */
	bool busy_poll;
	bool have_cpus;	 /* cpu_affinity given */
	cpu_set_t cpus;	 /* pin the bridge to these CPUs */
	int rt_priority; /* SCHED_FIFO priority, 0 = normal */
	unsigned idle_spin_us; /* spin this long after activity before sleeping */
	char stats_dir[256]; /* "" = no stats file */
	char state_dir[256]; /* bus id and link origin tables; "" = in memory only */
	unsigned stats_mode;
	int log_level; /* HM_DLOG_* (daemon/log.h) */
	unsigned nrings;
	hm_ring_cfg rings[HM_BRIDGE_MAX_RINGCFG];
	unsigned nlinks;
	hm_link_cfg links[HM_BRIDGE_MAX_LINKS];
	/* From the auth file. */
	unsigned nidents;
	hm_ident *idents;
} hm_bridge_cfg;

/* Defaults: bus $HERMES_BUS or "default", listen 127.0.0.1:7400, no auth
 * and no anonymous access (one of them must be configured), encryption
 * required with auth, slow policy auto, 1 MiB frames and output buffers,
 * 4096 connections (256 per address, 1024 per identity), 16 holding
 * subscriptions per identity, 5 min idle timeout, 256 MiB of grown input
 * buffers, 10 s handshake, 1 s publish timeout, stats in /dev/shm, state in
 * $STATE_DIRECTORY or /var/lib/hermes. */
void hm_bridge_cfg_defaults(hm_bridge_cfg *c);

/* Read an INI file over the current values. HERMES_EINVAL on any problem,
 * the detail (hermes_last_error_detail()) saying what and where:
 * "FILE:LINE: why". Every function here that fails says why in the detail. */
hermes_err hm_bridge_cfg_load(hm_bridge_cfg *c, const char *path);
hermes_err hm_bridge_cfg_load_string(hm_bridge_cfg *c, const char *text);

/* Set one [bridge] key as a flag would (same validation as the file). */
hermes_err hm_bridge_cfg_set(hm_bridge_cfg *c, const char *key, const char *value);

/* Add a link from a --link argument: HOST:PORT/RING[:in|:out][,RING...]. */
hermes_err hm_bridge_cfg_add_link(hm_bridge_cfg *c, const char *spec, const char *identity,
				  const char *key_file, bool encrypt);

/* Serve ring's old sequences from a journal: a --journal RING:DIR argument. */
hermes_err hm_bridge_cfg_add_journal(hm_bridge_cfg *c, const char *spec);

/* Read the auth file named by c->auth_file (identities and their keys). */
hermes_err hm_bridge_cfg_load_auth(hm_bridge_cfg *c);

/* Whole-configuration checks (names, sizes, listen address). */
hermes_err hm_bridge_cfg_check(hm_bridge_cfg *c);

void hm_bridge_cfg_fini(hm_bridge_cfg *c);

/* Does ring match one of the space-separated patterns? */
bool hm_patterns_match(const char *patterns, const char *ring);

const char *hm_slow_policy_name(hm_slow_policy p);

/* A ring name the bridge serves: the bus's rule (hm_name_ok: 1..47 of
 * [A-Za-z0-9._-]) without a leading '.'. */
bool hm_bridge_ring_name_ok(const char *s);

#endif
