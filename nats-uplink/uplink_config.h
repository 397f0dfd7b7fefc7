/* hermes-nats configuration: an INI file (libinih, the same dialect as
 * hermesd's), then the environment, then flags. Flags are applied through
 * the very same key handlers as the file, so one place validates a value.
 *
 *   [uplink]
 *   bus = default                 ; HERMES_BUS; --bus
 *   url = nats://127.0.0.1:4222   ; comma list, or the key repeated; --url;
 *                                 ; HERMES_NATS_URL
 *   prefix = hermes               ; subjects are <prefix>.<ring>
 *   name = hermes-nats            ; connection name shown by the server
 *   state =                       ; default /dev/shm/hermes-nats.<bus>
 *   batch = 256                   ; messages per publish batch / fetch (1..1024)
 *   flush = immediate             ; immediate: a batch that empties its ring is
 *                                 ; written at once; coalesce: leave it to the
 *                                 ; client library (written within 1 ms)
 *   mode = core                   ; default for rings: core or jetstream
 *   policy = block                ; default for rings: block or drop
 *   max_pending = 4M              ; default for rings, bytes
 *   replicas = 1                  ; default for streams the uplink creates
 *   deliver = all                 ; JetStream, first start of a receiver:
 *                                 ; all (whole stream) or new
 *   reconnect_wait = 100ms        ; first reconnect delay, doubled per round
 *   reconnect_max_wait = 2s       ; ... up to this
 *   connect_timeout = 2s
 *   ack_timeout = 5s              ; JetStream: a batch not acknowledged by then
 *                                 ; is sent again (same Nats-Msg-Id)
 *   duplicate_window = 2m         ; streams the uplink creates
 *   stream_max_age = 24h          ; streams the uplink creates: messages older
 *                                 ; are removed (0 = kept forever)
 *   stream_max_bytes = 0          ; ... and at most this many bytes (0 = no limit)
 *   log_level = info              ; error, warn, info, debug
 *
 *   [nats]                        ; authentication and TLS, passed to libnats
 *   user =
 *   password =                    ; or password_file = FILE, or HERMES_NATS_PASSWORD
 *   token =                       ; or token_file = FILE, or HERMES_NATS_TOKEN
 *   nkey =                        ; public NKey (U...), with nkey_seed = FILE
 *   creds =                       ; user credentials file (JWT + seed)
 *   tls = false                   ; require TLS (also implied by tls:// URLs)
 *   tls_ca = / tls_cert = / tls_key = / tls_hostname =
 *   tls_skip_verify = false
 *
 *   [ring orders]                 ; a ring section needs at least one key
 *   direction = both              ; out (ring -> NATS), in (NATS -> ring), both
 *   mode = jetstream              ; core or jetstream ([uplink] mode)
 *   policy = block                ; block or drop ([uplink] policy)
 *   max_pending = 8M              ; ([uplink] max_pending)
 *   stream = HERMES_ORDERS        ; JetStream stream (default HERMES_<RING>)
 *   subject =                     ; default <prefix>.<ring>
 *   replicas = 3                  ; ([uplink] replicas)
 *   deliver = all                 ; ([uplink] deliver)
 *   stream_max_age = 1h           ; ([uplink] stream_max_age)
 *   stream_max_bytes = 10G        ; ([uplink] stream_max_bytes)
 *
 * Unknown sections and keys are errors, reported with their line.
 */
#ifndef HM_NATS_UPLINK_CONFIG_H
#define HM_NATS_UPLINK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "core/units.h"

#define HM_NATS_MAX_URLS 16
#define HM_NATS_MAX_RINGS 64
#define HM_NATS_PATH_MAX 256

typedef struct hm_nats_ring_cfg {
	char name[HERMES_NAME_MAX + 1];
	unsigned dir;	 /* enum hm_nats_dir */
	unsigned mode;	 /* enum hm_nats_mode */
	unsigned policy; /* enum hm_nats_policy */
	uint64_t max_pending;
	char stream[64];   /* "HERMES_" + a ring name fits */
	char subject[144];
	unsigned replicas;
	bool deliver_new;
	int64_t stream_max_age_ms;
	uint64_t stream_max_bytes;
	/* Which keys the file or flags set; the rest come from [uplink]. */
	bool set_dir, set_mode, set_policy, set_max_pending, set_replicas, set_deliver;
	bool set_max_age, set_max_bytes;
} hm_nats_ring_cfg;

typedef struct hm_nats_config {
	char bus[HERMES_NAME_MAX + 1];
	char urls[HM_NATS_MAX_URLS][256];
	unsigned nurls;
	char prefix[80];
	char name[64];
	char state_path[HM_NATS_PATH_MAX];
	unsigned batch;
	bool flush_immediate;
	unsigned mode, policy, replicas;
	uint64_t max_pending;
	bool deliver_new;
	int64_t reconnect_wait_ms, reconnect_max_wait_ms, connect_timeout_ms, ack_timeout_ms;
	int64_t duplicate_window_ms;
	int64_t stream_max_age_ms;
	uint64_t stream_max_bytes;
	int log_level; /* HM_DLOG_* (daemon/log.h) */

	char user[128];
	char password[256];
	char token[256];
	char nkey[128];
	char nkey_seed[HM_NATS_PATH_MAX];
	char creds[HM_NATS_PATH_MAX];
	bool tls, tls_skip_verify;
	char tls_ca[HM_NATS_PATH_MAX], tls_cert[HM_NATS_PATH_MAX], tls_key[HM_NATS_PATH_MAX];
	char tls_hostname[256];

	unsigned nrings;
	hm_nats_ring_cfg rings[HM_NATS_MAX_RINGS];
	bool urls_from_file; /* the first --url replaces the file's list */
} hm_nats_config;

/* Built-in defaults, then HERMES_BUS, HERMES_NATS_URL, HERMES_NATS_PASSWORD
 * and HERMES_NATS_TOKEN. */
void hm_nats_config_defaults(hm_nats_config *c);

/* Read an INI file over the current values. HERMES_EINVAL on any problem,
 * the detail (hermes_last_error_detail()) saying what and where
 * ("PATH:LINE: reason", or "PATH: cannot read: reason"). Every function here
 * that fails says why in the detail. */
hermes_err hm_nats_config_load_file(hm_nats_config *c, const char *path);
hermes_err hm_nats_config_load_string(hm_nats_config *c, const char *text);

/* Set one key as if it appeared in `section` ("uplink", "nats" or
 * "ring NAME"); used for flags. */
hermes_err hm_nats_config_set(hm_nats_config *c, const char *section, const char *key, const char *value);

/* --ring NAME[:DIRECTION[:MODE[:POLICY]]], e.g. "orders:both:jetstream". */
hermes_err hm_nats_config_ring_spec(hm_nats_config *c, const char *spec);

/* Resolve defaults into every ring (subject, stream, inherited keys) and
 * check the whole: at least one ring and one URL, names valid, subjects and
 * stream names legal for NATS. */
hermes_err hm_nats_config_finish(hm_nats_config *c);

const char *hm_nats_dir_name(unsigned dir);
const char *hm_nats_mode_name(unsigned mode);
const char *hm_nats_policy_name(unsigned policy);

/* Print the effective configuration as an INI document (secrets shown as
 * "(set)"). */
void hm_nats_config_print(const hm_nats_config *c, void *file);

#endif
