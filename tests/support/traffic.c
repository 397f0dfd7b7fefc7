#include "tests/support/traffic.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/testing.h"

uint32_t ht_traffic_len(uint32_t k, uint64_t i)
{
	return 20 + (uint32_t)((i * 7 + k) % 65);
}

void ht_traffic_fill(void *buf, uint32_t len, uint32_t k, uint64_t i)
{
	uint8_t *p = buf;
	memcpy(p + 8, &k, 4);
	memcpy(p + 12, &i, 8);
	for (uint32_t j = 20; j < len; j++)
		p[j] = (uint8_t)(i * 131 + k * 17 + j);
	uint64_t sum = ht_fnv1a(p + 8, len - 8);
	memcpy(p, &sum, 8);
}

hermes_err ht_traffic_produce_from(hermes_pub *pub, uint32_t k, uint64_t *next, uint64_t count,
				   const _Atomic int *stop, int64_t claim_timeout_ns)
{
	for (uint64_t n = 0; n < count && !(stop && atomic_load(stop)); n++) {
		uint32_t len = ht_traffic_len(k, *next);
		hermes_claim c;
		hermes_err err = hermes_pub_claim_timed(pub, len, &c, claim_timeout_ns);
		if (err)
			return err;
		ht_traffic_fill(c.data, len, k, *next);
		err = hermes_pub_commit(pub, &c);
		if (err)
			return err;
		++*next;
	}
	return HERMES_OK;
}

hermes_err ht_traffic_produce(hermes_pub *pub, uint32_t k, uint64_t count, int64_t claim_timeout_ns)
{
	uint64_t next = 0;
	return ht_traffic_produce_from(pub, k, &next, count, NULL, claim_timeout_ns);
}

void ht_traffic_check(ht_checker *c, const hermes_msg *m, uint32_t producers)
{
	const uint8_t *p = m->data;
	uint32_t k;
	uint64_t i, sum;
	c->total++;
	if (m->len < 20) {
		c->errors++;
		if (c->errors == 1)
			snprintf(c->first_error, sizeof c->first_error, "seq %llu: short message %u",
				 (unsigned long long)m->seq, m->len);
		return;
	}
	memcpy(&sum, p, 8);
	memcpy(&k, p + 8, 4);
	memcpy(&i, p + 12, 8);
	const char *what = NULL;
	c->gaps += m->gap;
	if (m->lost || (m->gap && !c->allow_gaps))
		what = "gap or loss reported";
	else if (sum != ht_fnv1a(p + 8, m->len - 8))
		what = "checksum mismatch";
	else if (k >= producers)
		what = "unknown producer";
	else if (m->len != ht_traffic_len(k, i))
		what = "wrong length";
	else if (i != c->next[k])
		what = "out of order or duplicated";
	if (what) {
		c->errors++;
		if (c->errors == 1)
			snprintf(c->first_error, sizeof c->first_error,
				 "seq %llu: %s (producer %u counter %llu, expected %llu)",
				 (unsigned long long)m->seq, what, k, (unsigned long long)i,
				 k < producers ? (unsigned long long)c->next[k] : 0ull);
		return;
	}
	c->next[k]++;
}

typedef struct check_ctx {
	ht_checker *c;
	uint32_t producers;
} check_ctx;

static void on_msg(void *ctx, const hermes_msg *m)
{
	check_ctx *cc = ctx;
	ht_traffic_check(cc->c, m, cc->producers);
}

bool ht_traffic_consume(hermes_sub *sub, ht_checker *c, uint32_t producers, uint64_t expected,
			hermes_wait_mode mode, uint64_t deadline_ns)
{
	check_ctx cc = {c, producers};
	while (c->total < expected && !c->errors) {
		uint64_t now = ht_now_ns();
		if (now >= deadline_ns) {
			snprintf(c->first_error, sizeof c->first_error,
				 "deadline: %llu of %llu messages arrived", (unsigned long long)c->total,
				 (unsigned long long)expected);
			return false;
		}
		hermes_err err = hermes_sub_wait(sub, mode, (int64_t)(deadline_ns - now));
		if (err == HERMES_ETIMEDOUT)
			continue;
		unsigned n;
		err = hermes_sub_poll_batch(sub, on_msg, &cc, 4096, &n);
		if (err) {
			c->errors++;
			snprintf(c->first_error, sizeof c->first_error, "poll: %s",
				 hermes_strerror(err));
			return false;
		}
	}
	return !c->errors && c->total == expected;
}
