/* hermes-bridge configuration (see config.h). */
#include "tcp-bridge/bridge/config.h"
#include "daemon/ini.h"
#include "daemon/log.h"
#include "daemon/sched.h"
#include "core/units.h"

#include <errno.h>
#include <fnmatch.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcp-bridge/client/auth.h"
#include "tcp-bridge/client/netaddr.h"
#include "shm/ring.h"

#define DEFAULT_PORT "7400"

/* The timeouts' defaults (--help and hermes-bridge.conf.example say them). */
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define DEFAULT_PUBLISH_TIMEOUT_MS 1000
#define DEFAULT_LINK_IMPORT_TIMEOUT_MS 5000
#define DEFAULT_IDLE_TIMEOUT_MS 300000

void hm_bridge_cfg_defaults(hm_bridge_cfg *c)
{
	memset(c, 0, sizeof *c);
	const char *bus = getenv("HERMES_BUS");
	snprintf(c->bus, sizeof c->bus, "%s", bus && *bus ? bus : "default");
	snprintf(c->listen, sizeof c->listen, "127.0.0.1:" DEFAULT_PORT);
	c->encrypt = HM_ENC_REQUIRED;
	c->slow = HM_SLOW_AUTO;
	c->out_buffer = 1u << 20;
	c->max_frame = HERMES_DEFAULT_MAX_FRAME;
	c->max_connections = 4096;
	c->max_conns_per_address = 256;
	c->max_conns_per_identity = 1024;
	c->max_holds_per_identity = 16;
	c->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
	c->memory_limit = 256u << 20;
	c->max_subscriptions = 64;
	c->max_channels = 64;
	c->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
	c->publish_timeout_ms = DEFAULT_PUBLISH_TIMEOUT_MS;
	c->link_import_timeout_ms = DEFAULT_LINK_IMPORT_TIMEOUT_MS;
	c->idle_spin_us = 50;
	snprintf(c->stats_dir, sizeof c->stats_dir, "/dev/shm");
	/* State (the bus id, link origin tables) is never kept in a
	 * world-writable directory: systemd's StateDirectory=, or /var/lib. */
	const char *sd = getenv("STATE_DIRECTORY");
	snprintf(c->state_dir, sizeof c->state_dir, "%s", sd && sd[0] == '/' ? sd : "/var/lib/hermes");
	char *colon = strchr(c->state_dir, ':'); /* several StateDirectory= entries */
	if (colon)
		*colon = '\0';
	c->stats_mode = 0600;
	c->log_level = HM_DLOG_INFO;
}

void hm_bridge_cfg_fini(hm_bridge_cfg *c)
{
	/* Identities hold keys: locked, out of core dumps, wiped when freed. */
	hm_auth_secure_free(c->idents, c->nidents * sizeof *c->idents);
	c->idents = NULL;
	c->nidents = 0;
	hm_auth_secure_free(c->secret, HERMES_AUTH_KEY_SIZE);
	c->secret = NULL;
}

/* A value refused: HERMES_EINVAL, with why in the detail. */
static hermes_err bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static hermes_err bad(const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return hm_fail(HERMES_EINVAL, "%s", why);
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (end == s || *end || errno || s[0] == '-' || v > max)
		return false;
	*out = v;
	return true;
}

static const hm_ini_choice slow_names[] = {
	{"auto", HM_SLOW_AUTO}, {"drop", HM_SLOW_DROP}, {"disconnect", HM_SLOW_DISCONNECT},
	{"hold", HM_SLOW_HOLD}, {"block", HM_SLOW_HOLD}};
static const hm_ini_choice encrypt_names[] = {
	{"off", HM_ENC_OFF}, {"optional", HM_ENC_OPTIONAL}, {"required", HM_ENC_REQUIRED}};

static bool parse_policy(const char *s, hm_slow_policy *out)
{
	unsigned p;
	if (!HM_INI_CHOOSE(s, slow_names, &p))
		return false;
	*out = (hm_slow_policy)p;
	return true;
}

const char *hm_slow_policy_name(hm_slow_policy p)
{
	static const char *names[] = {"auto", "drop", "disconnect", "hold"};
	return (unsigned)p < 4 ? names[p] : "?";
}

bool hm_bridge_ring_name_ok(const char *s)
{
	_Static_assert(HM_BRIDGE_NAME_MAX == HERMES_NAME_MAX + 1, "bridge names are bus names");
	return s[0] != '.' && hm_name_ok(s);
}

static bool copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* Normalise a pattern list: commas or spaces between patterns. */
static bool set_patterns(char *dst, const char *src)
{
	if (!copy(dst, HM_BRIDGE_PATTERNS, src))
		return false;
	for (char *p = dst; *p; p++)
		if (*p == ',' || *p == '\t')
			*p = ' ';
	return true;
}

bool hm_patterns_match(const char *patterns, const char *ring)
{
	const char *p = patterns;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 0 && n < 256) {
			char pat[256];
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (fnmatch(pat, ring, 0) == 0)
				return true;
		}
		p += n;
	}
	return false;
}

/* The plain unsigned keys: "KEY: want MIN..MAX" when out of range. */
static const struct uint_key {
	const char *key;
	size_t offset;
	unsigned min, max;
} uint_keys[] = {
	{"max_connections", offsetof(hm_bridge_cfg, max_connections), 1, 1000000},
	{"max_connections_per_address", offsetof(hm_bridge_cfg, max_conns_per_address), 1, 1000000},
	{"max_connections_per_identity", offsetof(hm_bridge_cfg, max_conns_per_identity), 1, 1000000},
	{"max_holds_per_identity", offsetof(hm_bridge_cfg, max_holds_per_identity), 0, 4096},
	{"max_subscriptions", offsetof(hm_bridge_cfg, max_subscriptions), 1, 4096},
	{"max_channels", offsetof(hm_bridge_cfg, max_channels), 1, 4096},
	{"handshake_timeout_ms", offsetof(hm_bridge_cfg, handshake_timeout_ms), 1, 3600000},
	{"publish_timeout_ms", offsetof(hm_bridge_cfg, publish_timeout_ms), 0, 3600000},
	{"link_import_timeout_ms", offsetof(hm_bridge_cfg, link_import_timeout_ms), 0, 3600000},
	{"idle_spin_us", offsetof(hm_bridge_cfg, idle_spin_us), 0, 1000000},
};

static hermes_err set_uint_key(hm_bridge_cfg *c, const char *key, const char *v, bool *known)
{
	for (size_t i = 0; i < sizeof uint_keys / sizeof uint_keys[0]; i++) {
		const struct uint_key *k = &uint_keys[i];
		if (strcmp(key, k->key))
			continue;
		uint64_t u;
		if (!parse_uint(v, k->max, &u) || u < k->min)
			return bad("%s: want %u..%u", k->key, k->min, k->max);
		*(unsigned *)((char *)c + k->offset) = (unsigned)u;
		return HERMES_OK;
	}
	*known = false;
	return HERMES_OK;
}

/* Who may connect, and how: the bus, the listener, names, keys, encryption. */
static hermes_err set_access_key(hm_bridge_cfg *c, const char *key, const char *v, bool *known)
{
	if (!strcmp(key, "bus")) {
		if (!hm_bridge_ring_name_ok(v))
			return bad("bus: '%s' is not a bus name ([A-Za-z0-9._-], at most 47)", v);
		copy(c->bus, sizeof c->bus, v);
	} else if (!strcmp(key, "listen")) {
		char host[256];
		uint16_t port;
		if (hm_netaddr_split(v, host, sizeof host, &port) != 0 || !copy(c->listen, sizeof c->listen, v))
			return bad("listen: '%s' is not ADDR:PORT", v);
	} else if (!strcmp(key, "name")) {
		size_t n = strlen(v);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7E)
				return bad("name: printable ASCII without spaces only");
		if (!copy(c->name, sizeof c->name, v))
			return bad("name: at most 255 bytes");
	} else if (!strcmp(key, "key_file")) {
		if (!copy(c->key_file, sizeof c->key_file, v))
			return bad("key_file: path too long");
		if (!c->secret && !(c->secret = hm_auth_secure_alloc(HERMES_AUTH_KEY_SIZE)))
			return bad("key_file: no secure memory for the key");
		if (hm_auth_key_load(v, c->secret) != HERMES_OK ||
		    hm_auth_pk_public(c->secret, c->public_key) != HERMES_OK)
			return bad("key_file: %s", hermes_last_error_detail());
	} else if (!strcmp(key, "auth")) {
		if (!copy(c->auth_file, sizeof c->auth_file, v))
			return bad("auth: path too long");
	} else if (!strcmp(key, "encrypt")) {
		unsigned mode;
		if (!HM_INI_CHOOSE(v, encrypt_names, &mode))
			return bad("encrypt: want off, optional or required, not '%s'", v);
		c->encrypt = (hm_encrypt_mode)mode;
		c->encrypt_set = true;
	} else if (!strcmp(key, "allow_anonymous")) {
		if (!hm_ini_bool(v, &c->allow_anonymous))
			return bad("allow_anonymous: want true or false");
	} else if (!strcmp(key, "insecure")) {
		if (!hm_ini_bool(v, &c->insecure))
			return bad("insecure: want true or false");
	} else if (!strcmp(key, "bus_id")) {
		if (!parse_uint(v, UINT64_MAX, &c->bus_id) || c->bus_id == 0)
			return bad("bus_id: want a non-zero number");
	} else {
		*known = false;
	}
	return HERMES_OK;
}

/* How the bridge runs: slow subscribers, buffers, scheduling, files, logs. */
static hermes_err set_running_key(hm_bridge_cfg *c, const char *key, const char *v, bool *known)
{
	uint64_t u;
	bool b;
	if (!strcmp(key, "slow_policy")) {
		if (!parse_policy(v, &c->slow))
			return bad("slow_policy: want auto, drop, disconnect or hold, not '%s'", v);
	} else if (!strcmp(key, "out_buffer")) {
		if (!hm_parse_size(v, &u) || u < 65536 || u > (1ull << 30))
			return bad("out_buffer: want a size from 64K to 1G, not '%s'", v);
		c->out_buffer = u;
	} else if (!strcmp(key, "max_frame")) {
		if (!hm_parse_size(v, &u) || u < HERMES_MIN_MAX_FRAME || u > HERMES_FRAME_LIMIT)
			return bad("max_frame: want a size from 4K to 1G, not '%s'", v);
		c->max_frame = (uint32_t)u;
	} else if (!strcmp(key, "idle_timeout_ms")) {
		if (!parse_uint(v, 86400000, &u) || (u && u < 100))
			return bad("idle_timeout_ms: want 0 (never) or 100..86400000");
		c->idle_timeout_ms = (unsigned)u;
	} else if (!strcmp(key, "memory_limit")) {
		if (!hm_parse_size(v, &u) || u < (1u << 20))
			return bad("memory_limit: want a size of at least 1M, not '%s'", v);
		c->memory_limit = u;
	} else if (!strcmp(key, "cpu_affinity")) {
		c->have_cpus = *v != '\0';
		if (c->have_cpus && !hm_parse_cpus(v, &c->cpus))
			return bad("cpu_affinity: want a CPU list like 2,3 or 4-7");
	} else if (!strcmp(key, "rt_priority")) {
		if (!parse_uint(v, 99, &u))
			return bad("rt_priority: want 0 (off) to 99");
		c->rt_priority = (int)u;
	} else if (!strcmp(key, "busy_poll")) {
		if (!hm_ini_bool(v, &b))
			return bad("busy_poll: want true or false");
		c->busy_poll = b;
	} else if (!strcmp(key, "stats_dir")) {
		if (!copy(c->stats_dir, sizeof c->stats_dir, strcmp(v, "none") ? v : ""))
			return bad("stats_dir: path too long");
	} else if (!strcmp(key, "state_dir")) {
		if (!copy(c->state_dir, sizeof c->state_dir, strcmp(v, "none") ? v : ""))
			return bad("state_dir: path too long");
	} else if (!strcmp(key, "stats_mode")) {
		if (!parse_uint(v, 0777, &u) || (u & 0002))
			return bad("stats_mode: an octal mode, never world-writable");
		c->stats_mode = (unsigned)u;
	} else if (!strcmp(key, "log_level")) {
		if (!hm_ini_log_level(v, &c->log_level))
			return HERMES_EINVAL;
	} else {
		*known = false;
	}
	return HERMES_OK;
}

hermes_err hm_bridge_cfg_set(hm_bridge_cfg *c, const char *key, const char *v)
{
	bool known = true;
	hermes_err err = set_uint_key(c, key, v, &known);
	if (!known) {
		known = true;
		err = set_access_key(c, key, v, &known);
	}
	if (!known) {
		known = true;
		err = set_running_key(c, key, v, &known);
	}
	return known ? err : bad("unknown key '%s'", key);
}

/* "orders events:out quotes:in" (commas allowed too) into link rings. */
static hermes_err set_link_rings(hm_link_cfg *l, const char *v)
{
	char buf[2048];
	if (!copy(buf, sizeof buf, v))
		return bad("link rings: list too long");
	l->nrings = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (l->nrings == HM_BRIDGE_LINK_RINGS)
			return bad("link %s: at most %d rings", l->name, HM_BRIDGE_LINK_RINGS);
		hm_link_ring *r = &l->rings[l->nrings];
		char *dir = strchr(tok, ':');
		r->in = r->out = true;
		if (dir) {
			*dir++ = '\0';
			if (!strcmp(dir, "in"))
				r->out = false;
			else if (!strcmp(dir, "out"))
				r->in = false;
			else if (strcmp(dir, "both"))
				return bad("link ring '%s': direction must be in, out or both", tok);
		}
		if (!hm_bridge_ring_name_ok(tok))
			return bad("link ring '%s' is not a ring name", tok);
		copy(r->name, sizeof r->name, tok);
		l->nrings++;
	}
	if (l->nrings == 0)
		return bad("link %s: no rings", l->name);
	return HERMES_OK;
}

typedef struct parse_state {
	hm_bridge_cfg *c;
	hermes_err err;
	bool auth_file; /* parsing the auth file: only [identity] sections */
	char dir[512];	/* directory of the file, for relative key files */
} parse_state;

static hm_ring_cfg *ring_cfg(hm_bridge_cfg *c, const char *name)
{
	for (unsigned i = 0; i < c->nrings; i++)
		if (!strcmp(c->rings[i].name, name))
			return &c->rings[i];
	if (c->nrings == HM_BRIDGE_MAX_RINGCFG || !hm_bridge_ring_name_ok(name))
		return NULL;
	hm_ring_cfg *r = &c->rings[c->nrings++];
	copy(r->name, sizeof r->name, name);
	return r;
}

hermes_err hm_bridge_cfg_add_journal(hm_bridge_cfg *c, const char *spec)
{
	const char *colon = strchr(spec, ':');
	char name[HM_BRIDGE_NAME_MAX];
	if (!colon || (size_t)(colon - spec) >= sizeof name)
		return bad("--journal '%s': want RING:DIR", spec);
	memcpy(name, spec, (size_t)(colon - spec));
	name[colon - spec] = '\0';
	hm_ring_cfg *r = ring_cfg(c, name);
	if (!r)
		return bad("--journal '%s': bad ring name, or too many rings configured", spec);
	if (colon[1] != '/' || !copy(r->journal, sizeof r->journal, colon + 1))
		return bad("--journal '%s': want an absolute directory (at most %zu bytes)", spec,
			sizeof r->journal - 1);
	return HERMES_OK;
}

static hm_link_cfg *link_cfg(hm_bridge_cfg *c, const char *name)
{
	for (unsigned i = 0; i < c->nlinks; i++)
		if (!strcmp(c->links[i].name, name))
			return &c->links[i];
	if (c->nlinks == HM_BRIDGE_MAX_LINKS || strlen(name) >= sizeof c->links[0].name)
		return NULL;
	hm_link_cfg *l = &c->links[c->nlinks++];
	memset(l, 0, sizeof *l);
	copy(l->name, sizeof l->name, name);
	return l;
}

static hm_ident *ident_cfg(hm_bridge_cfg *c, const char *name)
{
	for (unsigned i = 0; i < c->nidents; i++)
		if (!strcmp(c->idents[i].name, name))
			return &c->idents[i];
	size_t n = strlen(name);
	if (n == 0 || n > HERMES_WIRE_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7E)
			return NULL;
	/* Never realloc: it would leave an unwiped copy of the keys behind. */
	hm_ident *grown = hm_auth_secure_alloc((c->nidents + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	if (c->nidents)
		memcpy(grown, c->idents, c->nidents * sizeof *grown);
	hm_auth_secure_free(c->idents, c->nidents * sizeof *c->idents);
	c->idents = grown;
	hm_ident *id = &c->idents[c->nidents++];
	memset(id, 0, sizeof *id);
	copy(id->name, sizeof id->name, name);
	return id;
}

/* A key of an [identity NAME] section of the auth file. */
static hermes_err on_identity_key(parse_state *ps, const char *section, const char *key,
				  const char *value)
{
	hm_bridge_cfg *c = ps->c;
	hermes_err err = HERMES_OK;
	if (strncmp(section, "identity ", 9) != 0) {
		err = bad("unknown section [%s] (want [identity NAME])", section);
	} else {
		hm_ident *id = ident_cfg(c, section + 9);
		if (!id) {
			err = bad("[%s]: bad identity name", section);
		} else if (!strcmp(key, "key_file")) {
			char path[1100];
			if (value[0] == '/')
				snprintf(path, sizeof path, "%s", value);
			else
				snprintf(path, sizeof path, "%s/%s", ps->dir, value);
			err = hm_auth_key_load(path, id->key);
			if (err)
				err = bad("[%s] key_file: %s", section, hermes_last_error_detail());
			else
				id->have_key = true;
		} else if (!strcmp(key, "publish")) {
			if (!set_patterns(id->publish, value))
				err = bad("[%s] publish: list too long", section);
		} else if (!strcmp(key, "subscribe")) {
			if (!set_patterns(id->subscribe, value))
				err = bad("[%s] subscribe: list too long", section);
		} else if (!strcmp(key, "slow_policy")) {
			if (!parse_policy(value, &id->slow))
				err = bad("[%s] slow_policy: want auto, drop, disconnect or hold",
				       section);
		} else if (!strcmp(key, "public_key")) {
			if (hm_auth_parse_key(value, id->public_key) != HERMES_OK)
				err = bad("[%s] public_key: want 64 hex digits (hermes-bridge "
					  "keygen prints them)",
				       section);
			else
				id->have_public = true;
		} else if (!strcmp(key, "hold")) {
			if (!hm_ini_bool(value, &id->hold))
				err = bad("[%s] hold: want true or false", section);
		} else if (!strcmp(key, "link")) {
			if (!hm_ini_bool(value, &id->link))
				err = bad("[%s] link: want true or false", section);
		} else {
			err = bad("[%s]: unknown key '%s'", section, key);
		}
	}
	return err;
}

/* A key of a [ring NAME] section. */
static hermes_err on_ring_key(hm_bridge_cfg *c, const char *section, const char *key,
			      const char *value)
{
	hm_ring_cfg *r = ring_cfg(c, section + 5);
	if (!r)
		return bad("[%s]: bad ring name, or too many ring sections", section);
	if (!strcmp(key, "slow_policy"))
		return parse_policy(value, &r->slow)
			       ? HERMES_OK
			       : bad("[%s] slow_policy: want auto, drop, disconnect or hold", section);
	if (!strcmp(key, "journal"))
		return value[0] == '/' && copy(r->journal, sizeof r->journal, value)
			       ? HERMES_OK
			       : bad("[%s] journal: want an absolute directory (at most %zu bytes)",
				  section, sizeof r->journal - 1);
	return bad("[%s]: unknown key '%s'", section, key);
}

/* A key of a [link NAME] section. */
static hermes_err on_link_key(hm_bridge_cfg *c, const char *section, const char *key,
			      const char *value)
{
	hermes_err err = HERMES_OK;
	hm_link_cfg *l = link_cfg(c, section + 5);
	if (!l)
		err = bad("[%s]: bad link name, or more than %d links", section, HM_BRIDGE_MAX_LINKS);
	else if (!strcmp(key, "connect")) {
		char host[256];
		uint16_t port;
		if (hm_netaddr_split(value, host, sizeof host, &port) != 0 || port == 0 ||
		    !copy(l->address, sizeof l->address, value))
			err = bad("[%s] connect: '%s' is not HOST:PORT", section, value);
	} else if (!strcmp(key, "rings")) {
		err = set_link_rings(l, value);
	} else if (!strcmp(key, "identity")) {
		if (!copy(l->identity, sizeof l->identity, value))
			err = bad("[%s] identity: too long", section);
	} else if (!strcmp(key, "key_file")) {
		if (!copy(l->key_file, sizeof l->key_file, value))
			err = bad("[%s] key_file: too long", section);
	} else if (!strcmp(key, "server_key")) {
		if (hm_auth_parse_key(value, l->server_key) != HERMES_OK)
			err = bad("[%s] server_key: want 64 hex digits", section);
		else
			l->have_server_key = true;
	} else if (!strcmp(key, "server")) {
		if (!copy(l->server, sizeof l->server, value))
			err = bad("[%s] server: too long", section);
	} else if (!strcmp(key, "encrypt")) {
		bool on = false;
		if (!hm_ini_bool(value, &on))
			err = bad("[%s] encrypt: want true or false", section);
		/* With a key, links are encrypted unless this says false. */
		l->encrypt = on;
		l->plaintext = !on;
	} else if (!strcmp(key, "start")) {
		static const hm_ini_choice starts[] = {{"latest", 0}, {"earliest", 1}};
		unsigned earliest;
		if (!HM_INI_CHOOSE(value, starts, &earliest))
			err = bad("[%s] start: want latest or earliest", section);
		else
			l->start_earliest = earliest;
	} else
		err = bad("[%s]: unknown key '%s'", section, key);
	return err;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	parse_state *ps = user;
	hm_bridge_cfg *c = ps->c;
	hermes_err err;
	/* After the first error nothing more is handled (libinih reads on and
	 * reports that line): its reason stays in the detail. */
	if (ps->err)
		return 0;
	if (ps->auth_file)
		err = on_identity_key(ps, section, key, value);
	else if (!strcmp(section, "bridge"))
		err = hm_bridge_cfg_set(c, key, value);
	else if (!strncmp(section, "ring ", 5))
		err = on_ring_key(c, section, key, value);
	else if (!strncmp(section, "link ", 5))
		err = on_link_key(c, section, key, value);
	else
		err = bad("unknown section [%s]", section);
	if (err && !ps->err)
		ps->err = err;
	return err == HERMES_OK;
}

static hermes_err finish(parse_state *ps, int r, const char *what)
{
	if (!ps->err)
		hm_clear_detail(); /* a syntax error: no message of a handler */
	return hm_ini_result(r, what);
}

hermes_err hm_bridge_cfg_load(hm_bridge_cfg *c, const char *path)
{
	parse_state ps = {.c = c};
	return finish(&ps, ini_parse(path, on_entry, &ps), path);
}

hermes_err hm_bridge_cfg_load_string(hm_bridge_cfg *c, const char *text)
{
	parse_state ps = {.c = c};
	return finish(&ps, ini_parse_string(text, on_entry, &ps), "(string)");
}

hermes_err hm_bridge_cfg_load_auth(hm_bridge_cfg *c)
{
	parse_state ps = {.c = c, .auth_file = true};
	/* The auth file decides who may do what: nobody else may change it. */
	struct stat st;
	if (stat(c->auth_file, &st) != 0)
		return bad("%s: cannot read: %s", c->auth_file, strerror(errno));
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) ||
	    (st.st_uid != geteuid() && st.st_uid != 0))
		return bad("%s must be a regular file owned by this user (or root) and not "
			   "writable by group or others (it is %04o, owner uid %u): chmod go-w it",
			c->auth_file, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%s", c->auth_file);
	snprintf(ps.dir, sizeof ps.dir, "%s", dirname(tmp));
	hermes_err err = finish(&ps, ini_parse(c->auth_file, on_entry, &ps), c->auth_file);
	if (err)
		return err;
	if (c->nidents == 0)
		return bad("%s: no [identity NAME] sections", c->auth_file);
	for (unsigned i = 0; i < c->nidents; i++) {
		if (!c->idents[i].have_key && !c->idents[i].have_public)
			return bad("%s: identity '%s' has neither public_key nor key_file",
				c->auth_file, c->idents[i].name);
		if (c->idents[i].have_key && c->idents[i].have_public)
			return bad("%s: identity '%s' has both public_key and key_file: one mode "
				   "per identity",
				c->auth_file, c->idents[i].name);
		if (c->idents[i].have_public && !c->secret)
			return bad("%s: identity '%s' has a public_key: the bridge needs its own key "
				   "pair (key_file = FILE, made with hermes-bridge keygen)",
				c->auth_file, c->idents[i].name);
	}
	return HERMES_OK;
}

hermes_err hm_bridge_cfg_add_link(hm_bridge_cfg *c, const char *spec, const char *identity,
				  const char *key_file, bool encrypt)
{
	const char *slash = strchr(spec, '/');
	if (!slash)
		return bad("--link '%s': want HOST:PORT/RING[:in|:out][,RING...]", spec);
	char addr[300];
	size_t n = (size_t)(slash - spec);
	if (n >= sizeof addr)
		return bad("--link '%s': address too long", spec);
	memcpy(addr, spec, n);
	addr[n] = '\0';
	char host[256], name[64];
	uint16_t port;
	if (hm_netaddr_split(addr, host, sizeof host, &port) != 0 || port == 0)
		return bad("--link '%s': '%s' is not HOST:PORT", spec, addr);
	snprintf(name, sizeof name, "link%u", c->nlinks + 1);
	hm_link_cfg *l = link_cfg(c, name);
	if (!l)
		return bad("at most %d links", HM_BRIDGE_MAX_LINKS);
	copy(l->address, sizeof l->address, addr);
	if (identity && !copy(l->identity, sizeof l->identity, identity))
		return bad("--link-identity: too long");
	if (key_file && !copy(l->key_file, sizeof l->key_file, key_file))
		return bad("--link-key: path too long");
	l->encrypt = encrypt;
	return set_link_rings(l, slash + 1);
}

hermes_err hm_bridge_cfg_check(hm_bridge_cfg *c)
{
	for (unsigned i = 0; i < c->nlinks; i++) {
		hm_link_cfg *l = &c->links[i];
		if (!l->address[0])
			return bad("link %s: no connect address", l->name);
		if (l->nrings == 0)
			return bad("link %s: no rings", l->name);
		if (l->encrypt && !l->key_file[0])
			return bad("link %s: encrypt needs a key_file", l->name);
		if ((l->key_file[0] || l->encrypt) && !hm_auth_available())
			return bad("link %s: authentication needs libsodium, and this hermes-bridge "
				   "was built without it",
				l->name);
	}
	if (c->auth_file[0] && !hm_auth_available())
		return bad("auth: authentication needs libsodium, and this hermes-bridge was built "
			   "without it (rebuild with HERMES_WITH_SODIUM=ON)");
	if (c->encrypt_set && c->encrypt == HM_ENC_REQUIRED && !c->auth_file[0])
		return bad("encrypt = required needs authentication (auth = FILE): encryption "
			   "keys come from the authenticated handshake");
	/* --insecure (anonymous off loopback) includes anonymous access. */
	if (c->insecure && !c->auth_file[0])
		c->allow_anonymous = true;
	if (c->out_buffer < (uint64_t)4 * HERMES_MIN_MAX_FRAME)
		return bad("out_buffer is too small");
	return HERMES_OK;
}
