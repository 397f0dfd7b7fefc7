/* Checked traffic for multi-producer tests: each message says which
 * producer sent it and its per-producer counter, and carries a checksum, so
 * a consumer can verify exactly-once, per-producer order and integrity. */
#ifndef HM_TRAFFIC_H
#define HM_TRAFFIC_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/bus.h>

#define HT_MAX_PRODUCERS 256

/* Payload length of message i of producer k: varies from 20 to 84 bytes. */
uint32_t ht_traffic_len(uint32_t k, uint64_t i);

/* Fill buf (ht_traffic_len bytes) with message i of producer k. */
void ht_traffic_fill(void *buf, uint32_t len, uint32_t k, uint64_t i);

/* Publish `count` messages as producer k. Each claim may wait up to
 * claim_timeout_ns for room. Returns HERMES_OK or the first error. */
hermes_err ht_traffic_produce(hermes_pub *pub, uint32_t k, uint64_t count, int64_t claim_timeout_ns);

/* The same from message *next of producer k on (advanced past each one
 * published), until `count` more are out or *stop (when not NULL) is set. */
hermes_err ht_traffic_produce_from(hermes_pub *pub, uint32_t k, uint64_t *next, uint64_t count,
				   const _Atomic int *stop, int64_t claim_timeout_ns);

typedef struct ht_checker {
	uint64_t next[HT_MAX_PRODUCERS]; /* expected counter per producer */
	bool allow_gaps; /* repaired claims of killed producers are expected */
	uint64_t gaps;	 /* sequences skipped (aborted or repaired) */
	uint64_t total;
	uint64_t errors;
	char first_error[160];
} ht_checker;

/* Verify one delivered message; records the first error. */
void ht_traffic_check(ht_checker *c, const hermes_msg *m, uint32_t producers);

/* Consume until `expected` messages arrived, an error, or the deadline.
 * Waits with `mode` between polls. Returns true when everything arrived with
 * no error. */
bool ht_traffic_consume(hermes_sub *sub, ht_checker *c, uint32_t producers, uint64_t expected,
			hermes_wait_mode mode, uint64_t deadline_ns);

#endif
