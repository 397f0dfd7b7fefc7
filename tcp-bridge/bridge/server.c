/* Server state shared by connections, feeds and links (see server.h). */
#include "tcp-bridge/bridge/server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error_detail.h"
#include "daemon/log.h"
#include "shm/segment.h"
#include "tcp-bridge/client/auth.h"
#include "tcp-bridge/client/netaddr.h"

void hm_conn_log_fields(const hm_conn *c, struct hm_dlog_kv *kv)
{
	if (c->identity[0])
		hm_dlog_str(kv, "client", c->identity);
	hm_dlog_int(kv, "conn", (long long)c->serial);
	hm_dlog_str(kv, "peer", c->peer);
}


hermes_err hm_server_init(hm_server *s, const hm_bridge_cfg *cfg, hermes_bus *bus,
			  hm_watch *watch, hm_bridge_stats *stats)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->bus = bus;
	s->watch = watch;
	s->stats = stats;
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	if (cfg->name[0]) {
		snprintf(s->name, sizeof s->name, "%s", cfg->name);
	} else {
		/* The WELCOME name must be printable without spaces. */
		snprintf(s->name, sizeof s->name, "hermes-bridge@%.200s", host);
		for (char *p = s->name; *p; p++)
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E)
				*p = '_';
	}
	/* A random bus id, kept in the state directory for the bus's other
	 * bridges and later runs; a guessable one would let anyone forge
	 * another bus's origin. */
	s->bus_id = cfg->bus_id;
	if (!s->bus_id && hm_state_bus_id(cfg->state_dir, cfg->bus, &s->bus_id) != HERMES_OK)
		hm_dlog(HM_DLOG_WARN, "cannot keep the bus id in %s (%s): a random one for this run only",
		       cfg->state_dir, hermes_last_error_detail());
	while (!s->bus_id)
		if (getrandom(&s->bus_id, sizeof s->bus_id, 0) != (ssize_t)sizeof s->bus_id)
			return hm_fail(HERMES_ESYS, "getrandom failed");
	s->ident_state = calloc(cfg->nidents + 1u, sizeof *s->ident_state);
	if (!s->ident_state)
		return hm_fail(HERMES_ENOMEM, "per-identity state");
	/* An identity without a key is checked against a random key, so that
	 * "unknown identity" costs the same as "wrong key" and looks the same. */
	if (cfg->nidents && (hm_auth_random(s->unknown_key, sizeof s->unknown_key) != HERMES_OK ||
			     hm_auth_pk_public(s->unknown_key, s->unknown_pk) != HERMES_OK))
		return HERMES_ENOTSUP;
	return HERMES_OK;
}

static const hm_ident *ident_named(const hm_bridge_cfg *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->nidents; i++)
		if (!strcmp(cfg->idents[i].name, name))
			return &cfg->idents[i];
	return NULL;
}

static bool ident_same(const hm_ident *a, const hm_ident *b)
{
	return hm_auth_equal(a->key, b->key, sizeof a->key) && a->have_public == b->have_public &&
	       !memcmp(a->public_key, b->public_key, sizeof a->public_key) &&
	       !strcmp(a->publish, b->publish) &&
	       !strcmp(a->subscribe, b->subscribe) && a->slow == b->slow && a->hold == b->hold &&
	       a->link == b->link;
}

/* A loaded auth configuration thrown away: the bridge's key stays cfg's. */
static void discard_loaded(hm_bridge_cfg *n)
{
	n->secret = NULL;
	hm_bridge_cfg_fini(n);
	free(n);
}

/* What identities brought in over links stays theirs: the origins of each
 * identity of cfg that n still has, and of the anonymous entry (the last). */
static void carry_origins(const hm_server *s, const hm_bridge_cfg *cfg, const hm_bridge_cfg *n,
			  struct hm_ident_state *st)
{
	for (unsigned i = 0; i < n->nidents; i++) {
		const hm_ident *o = ident_named(cfg, n->idents[i].name);
		if (o)
			memcpy(st[i].origins, s->ident_state[o - cfg->idents].origins,
			       sizeof st[i].origins);
	}
	memcpy(st[n->nidents].origins, s->ident_state[cfg->nidents].origins,
	       sizeof st[n->nidents].origins);
}

/* Sessions of a removed identity, or of one whose key or permissions
 * changed, are closed (counted in *closed); the others move over to the new
 * entries of n, counted in st. */
static void move_sessions(hm_server *s, const hm_bridge_cfg *n, struct hm_ident_state *st,
			  unsigned *closed)
{
	for (hm_conn *c = s->conns; c; c = c->next) {
		if (c->ident_ix < 0)
			continue; /* not in a session (yet): it looks its identity up then */
		int ix = (int)n->nidents;
		if (c->ident) {
			const hm_ident *ni = ident_named(n, c->ident->name);
			if (!ni || !ident_same(ni, c->ident)) {
				for (unsigned i = 0; i < c->nsubs; i++)
					c->subs[i]->held = false;
				c->ident_ix = -1;
				c->ident = NULL;
				hm_conn_fatal(c, HERMES_EPERM,
					      ni ? "identity '%s' changed (key or permissions): reconnect"
						 : "identity '%s' was revoked",
					      c->identity);
				(*closed)++;
				continue;
			}
			ix = (int)(ni - n->idents);
			c->ident = ni;
		}
		c->ident_ix = ix;
		st[ix].conns++;
		for (unsigned i = 0; i < c->nsubs; i++)
			st[ix].holds += c->subs[i]->held;
	}
}

hermes_err hm_server_reload_auth(hm_server *s, hm_bridge_cfg *cfg, unsigned *closed)
{
	*closed = 0;
	hm_bridge_cfg *n = malloc(sizeof *n);
	if (!n)
		return hm_fail(HERMES_ENOMEM, "reloading the auth file");
	*n = *cfg;
	n->idents = NULL;
	n->nidents = 0;
	hermes_err aerr = hm_bridge_cfg_load_auth(n);
	if (aerr != HERMES_OK) {
		discard_loaded(n); /* the detail says why */
		return aerr;
	}
	/* The bridge's own key pair rotates with it. */
	uint8_t sk[HERMES_AUTH_KEY_SIZE], pk[HERMES_KX_PUBLIC_KEY_SIZE];
	bool rekey = cfg->secret && cfg->key_file[0];
	hermes_err kerr = rekey ? hm_auth_key_load(cfg->key_file, sk) : HERMES_OK;
	if (!kerr && rekey)
		kerr = hm_auth_pk_public(sk, pk);
	struct hm_ident_state *st = kerr ? NULL : calloc(n->nidents + 1u, sizeof *st);
	if (!st) {
		hermes_err err = kerr ? hm_fail(kerr, "key_file %s: %s", cfg->key_file,
						hermes_last_error_detail())
				      : hm_fail(HERMES_ENOMEM, "reloading the auth file");
		hm_auth_wipe(sk, sizeof sk);
		discard_loaded(n);
		return err;
	}
	if (rekey) {
		memcpy(cfg->secret, sk, sizeof sk);
		memcpy(cfg->public_key, pk, sizeof pk);
		hm_auth_wipe(sk, sizeof sk);
	}
	carry_origins(s, cfg, n, st);
	move_sessions(s, n, st, closed);
	free(s->ident_state);
	s->ident_state = st;
	hm_auth_secure_free(cfg->idents, cfg->nidents * sizeof *cfg->idents);
	cfg->idents = n->idents;
	cfg->nidents = n->nidents;
	free(n);
	if (cfg->nidents && hm_auth_random(s->unknown_key, sizeof s->unknown_key) == HERMES_OK)
		(void)hm_auth_pk_public(s->unknown_key, s->unknown_pk);
	return HERMES_OK;
}

void hm_server_fini(hm_server *s)
{
	for (unsigned i = 0; i < HM_MAX_RINGREFS; i++) {
		hm_ringref *rr = &s->rings[i];
		if (!rr->used)
			continue;
		if (rr->pub)
			hermes_pub_close(rr->pub);
		hm_origins_close(rr->org);
		memset(rr, 0, sizeof *rr);
	}
	free(s->scratch);
	s->scratch = NULL;
	free(s->ident_state);
	s->ident_state = NULL;
	hm_auth_wipe(s->unknown_key, sizeof s->unknown_key);
}

/* Entries of live rings stay (they remember which messages links imported);
 * those of deleted rings go once nothing uses them. */
static void ringref_free_if_unused(hm_ringref *rr)
{
	if (rr->pub_refs || rr->feeds || !rr->stale)
		return;
	if (rr->pub)
		hermes_pub_close(rr->pub);
	hm_origins_close(rr->org);
	memset(rr, 0, sizeof *rr);
}

hermes_err hm_server_ring(hm_server *s, const char *name, hm_ringref **out)
{
	hm_ring ring;
	hermes_err err = hm_bus_find_ring(s->bus, name, &ring, NULL);
	hm_ringref *found = NULL, *free_ref = NULL;
	for (unsigned i = 0; i < HM_MAX_RINGREFS; i++) {
		hm_ringref *rr = &s->rings[i];
		if (!rr->used) {
			if (!free_ref)
				free_ref = rr;
			continue;
		}
		if (rr->stale || strcmp(rr->name, name))
			continue;
		if (!err && rr->ring.hdr == ring.hdr &&
		    !hm_load_relaxed_u32(&rr->ring.hdr->deleted)) {
			found = rr;
			break;
		}
		/* The ring was deleted (and maybe made again): this entry
		 * only serves the handles still open on the old one. */
		rr->stale = true;
		ringref_free_if_unused(rr);
		if (!rr->used && !free_ref)
			free_ref = rr;
	}
	if (found) {
		*out = found;
		return HERMES_OK;
	}
	if (err)
		return err;
	if (!free_ref)
		return hm_fail(HERMES_ENOSPC, "the bridge tracks too many rings");
	memset(free_ref, 0, sizeof *free_ref);
	free_ref->used = true;
	snprintf(free_ref->name, sizeof free_ref->name, "%s", name);
	free_ref->ring = ring;
	free_ref->slow = HM_SLOW_AUTO;
	free_ref->journal = "";
	for (unsigned i = 0; i < s->cfg->nrings; i++)
		if (!strcmp(s->cfg->rings[i].name, name)) {
			free_ref->slow = s->cfg->rings[i].slow;
			free_ref->journal = s->cfg->rings[i].journal;
		}
	*out = free_ref;
	return HERMES_OK;
}

hermes_err hm_server_pub_get(hm_server *s, hm_ringref *rr)
{
	if (!rr->pub) {
		hermes_err err = hermes_pub_open(s->bus, rr->name, &rr->pub);
		if (err)
			return err;
	}
	rr->pub_refs++;
	return HERMES_OK;
}

void hm_server_pub_put(hm_server *s, hm_ringref *rr)
{
	(void)s;
	if (rr->pub_refs && --rr->pub_refs == 0) {
		hermes_pub_close(rr->pub);
		rr->pub = NULL;
	}
	ringref_free_if_unused(rr);
}

void hm_server_ring_unused(hm_server *s, hm_ringref *rr)
{
	(void)s;
	ringref_free_if_unused(rr);
}

hm_origins *hm_server_origins(hm_server *s, hm_ringref *rr)
{
	if (!rr->org) {
		const char *dir = s->cfg->state_dir;
		hermes_err err = hm_origins_open(dir, s->cfg->bus, rr->name, &rr->ring, &rr->org);
		if (err && dir[0]) {
			hm_dlog_ring(HM_DLOG_WARN, rr->name,
				    "link origin table not kept in %s (%s); in memory only, so link "
				    "dedupe does not survive a restart",
				    dir, hermes_last_error_detail());
			err = hm_origins_open(NULL, s->cfg->bus, rr->name, &rr->ring, &rr->org);
		}
		if (err)
			hm_dlog_ring(HM_DLOG_ERROR, rr->name, "cannot open its link origin table in %s: %s",
				    dir, hermes_last_error_detail());
	}
	return rr->org;
}

hermes_err hm_server_commit_imported(hm_server *s, hm_ringref *rr, const void *data, uint32_t len,
				     uint32_t utag, uint64_t origin, uint64_t oseq, uint64_t *seq)
{
	hm_origins *org = hm_server_origins(s, rr);
	hermes_claim c;
	hermes_err err = hermes_pub_claim_tagged(rr->pub, len, utag, &c);
	if (err)
		return err;
	memcpy(c.data, data, len);
	/* The tag and the announcement before the commit: see origins.h. */
	if (org) {
		hm_origins_mark(org, c.seq_);
		if (origin)
			hm_origins_pending(org, origin, oseq, c.seq_);
	}
	*seq = c.seq_;
	err = hermes_pub_commit(rr->pub, &c);
	if (!err && org && origin)
		hm_origins_record(org, origin, oseq);
	return err;
}

int hm_server_resolve(const char *address, bool passive, struct sockaddr_storage *ss,
		      socklen_t *sl)
{
	char host[256];
	uint16_t port;
	if (hm_netaddr_split(address, host, sizeof host, &port) != 0)
		return -1;
	return hm_netaddr_resolve(host, port, passive, ss, sl);
}

/* Push c on the list at *head through its link *next, unless *listed says
 * it is on it already. */
static void push_once(hm_conn **head, hm_conn *c, bool *listed, hm_conn **next)
{
	if (*listed)
		return;
	*listed = true;
	*next = *head;
	*head = c;
}

void hm_server_mark_dirty(hm_server *s, hm_conn *c)
{
	push_once(&s->dirty, c, &c->in_dirty, &c->dirty_next);
}

void hm_server_mark_wake(hm_server *s, hm_conn *c)
{
	push_once(&s->wake, c, &c->in_wake, &c->wake_next);
}
