#include "nats-uplink/uplink_config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ini.h"
#include "daemon/log.h"
#include "shm/segment.h"
#include "nats-uplink/state_layout.h"

#define BAD(...) HM_INI_FAIL(__VA_ARGS__)
/* JetStream streams: at most 5 replicas. */
#define MAX_REPLICAS 5u

const char *hm_nats_dir_name(unsigned dir)
{
	return dir == HM_NATS_DIR_OUT ? "out" : dir == HM_NATS_DIR_IN ? "in" : dir == HM_NATS_DIR_BOTH ? "both" : "?";
}

const char *hm_nats_mode_name(unsigned mode)
{
	return mode == HM_NATS_MODE_JETSTREAM ? "jetstream" : "core";
}

const char *hm_nats_policy_name(unsigned policy)
{
	return policy == HM_NATS_POLICY_DROP ? "drop" : "block";
}

static const hm_ini_choice dir_names[] = {
	{"out", HM_NATS_DIR_OUT}, {"in", HM_NATS_DIR_IN}, {"both", HM_NATS_DIR_BOTH}};
static const hm_ini_choice mode_names[] = {
	{"core", HM_NATS_MODE_CORE}, {"jetstream", HM_NATS_MODE_JETSTREAM}, {"js", HM_NATS_MODE_JETSTREAM}};
static const hm_ini_choice policy_names[] = {{"block", HM_NATS_POLICY_BLOCK}, {"drop", HM_NATS_POLICY_DROP}};
/* deliver = all | new: whether a new consumer starts at new messages. */
static const hm_ini_choice deliver_names[] = {{"all", 0}, {"new", 1}};
/* flush = immediate | coalesce: whether a batch is written at once. */
static const hm_ini_choice flush_names[] = {{"coalesce", 0}, {"immediate", 1}};

/* key (password_file, token_file) names a file whose first line is a secret:
 * into buf[len]. 1, or 0 with the reason in the detail. */
static int read_secret(const char *key, const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok = f && fgets(buf, (int)len, f) != NULL;
	if (f)
		fclose(f);
	if (!ok)
		BAD("%s '%s' cannot be read", key, path);
	buf[strcspn(buf, "\r\n")] = '\0';
	return 1;
}

/* Append a comma-separated list of URLs. */
static int add_urls(hm_nats_config *c, const char *v)
{
	const char *p = v;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (c->nurls == HM_NATS_MAX_URLS)
			BAD("more than %d URLs", HM_NATS_MAX_URLS);
		if (n >= sizeof c->urls[0])
			BAD("URL '%.40s...' is too long", p);
		memcpy(c->urls[c->nurls], p, n);
		c->urls[c->nurls][n] = '\0';
		const char *u = c->urls[c->nurls];
		if (strncmp(u, "nats://", 7) && strncmp(u, "tls://", 6))
			BAD("URL '%s' must start with nats:// or tls://", u);
		c->nurls++;
		p += n;
	}
	return 1;
}

static int copy_str(char *dst, size_t len, const char *key, const char *v)
{
	if (strlen(v) >= len)
		BAD("%s is too long (at most %zu characters)", key, len - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 1;
}

/* The keys [uplink] and [ring NAME] share, one check each; where is "" or
 * "ring 'NAME': ", for the error. key = a count from 1 to max: */
static int set_count(const char *where, const char *key, const char *v,
		     unsigned max, unsigned *out)
{
	uint64_t n;
	if (!hm_parse_size(v, &n) || n < 1 || n > max)
		BAD("%s%s '%s' must be 1..%u", where, key, v, max);
	*out = (unsigned)n;
	return 1;
}

/* key = one of names (want lists them) into *out. */
static int set_choice(const char *where, const char *key, const char *v,
		      const hm_ini_choice *names, size_t n, const char *want, unsigned *out)
{
	if (!hm_ini_choose(v, names, n, out))
		BAD("%s%s '%s' must be %s", where, key, v, want);
	return 1;
}
#define SET_CHOICE(where, key, v, names, want, out) \
	set_choice(where, key, v, names, sizeof(names) / sizeof((names)[0]), want, out)

/* A yes/no choice (deliver = all | new, flush = coalesce | immediate). */
static int set_flag_choice(const char *where, const char *key, const char *v,
			   const hm_ini_choice names[2], const char *want, bool *out)
{
	unsigned u = 0;
	if (!set_choice(where, key, v, names, 2, want, &u))
		return 0;
	*out = u != 0;
	return 1;
}

static int set_max_pending(const char *where, const char *v, uint64_t *out)
{
	if (!hm_parse_size(v, out) || *out < 4096 || *out > (1ull << 32))
		BAD("%smax_pending '%s' must be a size from 4K to 4G", where, v);
	return 1;
}

/* The duration keys of [uplink]: "KEY 'VALUE' WANT" when bad or below min. */
static const struct duration_key {
	const char *key;
	size_t offset;
	int64_t min;
	const char *want;
} duration_keys[] = {
	{"reconnect_wait", offsetof(hm_nats_config, reconnect_wait_ms), 1, "is not a duration like 100ms"},
	{"reconnect_max_wait", offsetof(hm_nats_config, reconnect_max_wait_ms), 1,
	 "is not a duration like 2s"},
	{"connect_timeout", offsetof(hm_nats_config, connect_timeout_ms), 1, "is not a duration like 2s"},
	{"ack_timeout", offsetof(hm_nats_config, ack_timeout_ms), 10,
	 "is not a duration of at least 10ms"},
	{"duplicate_window", offsetof(hm_nats_config, duplicate_window_ms), 1000,
	 "is not a duration of at least 1s"},
	{"stream_max_age", offsetof(hm_nats_config, stream_max_age_ms), 0,
	 "is not a duration like 24h (0: forever)"},
};

/* Set a duration key; 1 when set, 0 when bad, -1 when key is none of them. */
static int set_duration_key(hm_nats_config *c, const char *key, const char *v)
{
	for (size_t i = 0; i < sizeof duration_keys / sizeof duration_keys[0]; i++) {
		const struct duration_key *k = &duration_keys[i];
		if (strcmp(key, k->key))
			continue;
		int64_t *ms = (int64_t *)((char *)c + k->offset);
		if (!hm_parse_duration_ms(v, ms) || *ms < k->min)
			BAD("%s '%s' %s", k->key, v, k->want);
		return 1;
	}
	return -1;
}

static int on_uplink_key(hm_nats_config *c, const char *key, const char *v)
{
	int set = set_duration_key(c, key, v);
	if (set >= 0)
		return set;
	if (!strcmp(key, "bus")) {
		if (!hm_segment_name_ok(v))
			BAD("bus name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -", v,
			    HERMES_NAME_MAX);
		snprintf(c->bus, sizeof c->bus, "%s", v);
	} else if (!strcmp(key, "url")) {
		return add_urls(c, v);
	} else if (!strcmp(key, "prefix")) {
		return copy_str(c->prefix, sizeof c->prefix, "prefix", v);
	} else if (!strcmp(key, "name")) {
		return copy_str(c->name, sizeof c->name, "name", v);
	} else if (!strcmp(key, "state")) {
		if (*v && *v != '/')
			BAD("state '%s' must be an absolute path", v);
		return copy_str(c->state_path, sizeof c->state_path, "state", v);
	} else if (!strcmp(key, "batch")) {
		return set_count("", key, v, 1024, &c->batch);
	} else if (!strcmp(key, "flush")) {
		return set_flag_choice("", key, v, flush_names, "immediate or coalesce", &c->flush_immediate);
	} else if (!strcmp(key, "mode")) {
		return SET_CHOICE("", key, v, mode_names, "core or jetstream", &c->mode);
	} else if (!strcmp(key, "policy")) {
		return SET_CHOICE("", key, v, policy_names, "block or drop", &c->policy);
	} else if (!strcmp(key, "max_pending")) {
		return set_max_pending("", v, &c->max_pending);
	} else if (!strcmp(key, "replicas")) {
		return set_count("", key, v, MAX_REPLICAS, &c->replicas);
	} else if (!strcmp(key, "deliver")) {
		return set_flag_choice("", key, v, deliver_names, "all or new", &c->deliver_new);
	} else if (!strcmp(key, "stream_max_bytes")) {
		if (!hm_parse_size(v, &c->stream_max_bytes) || c->stream_max_bytes > INT64_MAX)
			BAD("stream_max_bytes '%s' is not a size (0: no limit)", v);
	} else if (!strcmp(key, "log_level")) {
		return hm_ini_log_level(v, &c->log_level);
	} else {
		BAD("unknown key '%s' in [uplink] (known: bus, url, prefix, name, state, batch, "
		    "flush, mode, policy, max_pending, replicas, deliver, reconnect_wait, "
		    "reconnect_max_wait, connect_timeout, ack_timeout, duplicate_window, "
		    "stream_max_age, stream_max_bytes, log_level)",
		    key);
	}
	return 1;
}

static int on_nats_key(hm_nats_config *c, const char *key, const char *v)
{
	if (!strcmp(key, "user"))
		return copy_str(c->user, sizeof c->user, "user", v);
	if (!strcmp(key, "password"))
		return copy_str(c->password, sizeof c->password, "password", v);
	if (!strcmp(key, "password_file"))
		return read_secret(key, v, c->password, sizeof c->password);
	if (!strcmp(key, "token"))
		return copy_str(c->token, sizeof c->token, "token", v);
	if (!strcmp(key, "token_file"))
		return read_secret(key, v, c->token, sizeof c->token);
	if (!strcmp(key, "nkey"))
		return copy_str(c->nkey, sizeof c->nkey, "nkey", v);
	if (!strcmp(key, "nkey_seed"))
		return copy_str(c->nkey_seed, sizeof c->nkey_seed, "nkey_seed", v);
	if (!strcmp(key, "creds"))
		return copy_str(c->creds, sizeof c->creds, "creds", v);
	if (!strcmp(key, "tls")) {
		if (!hm_ini_bool(v, &c->tls))
			BAD("tls '%s' must be true or false", v);
		return 1;
	}
	if (!strcmp(key, "tls_skip_verify")) {
		if (!hm_ini_bool(v, &c->tls_skip_verify))
			BAD("tls_skip_verify '%s' must be true or false", v);
		return 1;
	}
	if (!strcmp(key, "tls_ca"))
		return copy_str(c->tls_ca, sizeof c->tls_ca, "tls_ca", v);
	if (!strcmp(key, "tls_cert"))
		return copy_str(c->tls_cert, sizeof c->tls_cert, "tls_cert", v);
	if (!strcmp(key, "tls_key"))
		return copy_str(c->tls_key, sizeof c->tls_key, "tls_key", v);
	if (!strcmp(key, "tls_hostname"))
		return copy_str(c->tls_hostname, sizeof c->tls_hostname, "tls_hostname", v);
	BAD("unknown key '%s' in [nats] (known: user, password, password_file, token, "
	    "token_file, nkey, nkey_seed, creds, tls, tls_ca, tls_cert, tls_key, tls_hostname, "
	    "tls_skip_verify)",
	    key);
}

static hm_nats_ring_cfg *ring_named(hm_nats_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nrings; i++)
		if (!strcmp(c->rings[i].name, name))
			return &c->rings[i];
	if (c->nrings == HM_NATS_MAX_RINGS) {
		(void)hm_fail(HERMES_EINVAL, "more than %d rings", HM_NATS_MAX_RINGS);
		return NULL;
	}
	if (strlen(name) > HERMES_NAME_MAX || !hm_segment_name_ok(name)) {
		(void)hm_fail(HERMES_EINVAL,
			      "ring name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -", name,
			      HERMES_NAME_MAX);
		return NULL;
	}
	hm_nats_ring_cfg *r = &c->rings[c->nrings++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->dir = HM_NATS_DIR_BOTH;
	return r;
}

/* A ring's keys; a set_ flag records each key given (an error fails the
 * whole load, so setting it first is harmless). */
static int on_ring_key(hm_nats_ring_cfg *r, const char *key, const char *v)
{
	char where[HERMES_NAME_MAX + 16];
	snprintf(where, sizeof where, "ring '%s': ", r->name);
	if (!strcmp(key, "direction")) {
		r->set_dir = true;
		return SET_CHOICE(where, key, v, dir_names, "out, in or both", &r->dir);
	} else if (!strcmp(key, "mode")) {
		r->set_mode = true;
		return SET_CHOICE(where, key, v, mode_names, "core or jetstream", &r->mode);
	} else if (!strcmp(key, "policy")) {
		r->set_policy = true;
		return SET_CHOICE(where, key, v, policy_names, "block or drop", &r->policy);
	} else if (!strcmp(key, "max_pending")) {
		r->set_max_pending = true;
		return set_max_pending(where, v, &r->max_pending);
	} else if (!strcmp(key, "stream")) {
		if (strlen(v) >= sizeof r->stream)
			BAD("ring '%s': stream name '%s' is too long", r->name, v);
		snprintf(r->stream, sizeof r->stream, "%s", v);
	} else if (!strcmp(key, "subject")) {
		if (strlen(v) >= sizeof r->subject)
			BAD("ring '%s': subject '%s' is too long", r->name, v);
		snprintf(r->subject, sizeof r->subject, "%s", v);
	} else if (!strcmp(key, "replicas")) {
		r->set_replicas = true;
		return set_count(where, key, v, MAX_REPLICAS, &r->replicas);
	} else if (!strcmp(key, "deliver")) {
		r->set_deliver = true;
		return set_flag_choice(where, key, v, deliver_names, "all or new", &r->deliver_new);
	} else if (!strcmp(key, "stream_max_age")) {
		if (!hm_parse_duration_ms(v, &r->stream_max_age_ms))
			BAD("ring '%s': stream_max_age '%s' is not a duration like 24h", r->name, v);
		r->set_max_age = true;
	} else if (!strcmp(key, "stream_max_bytes")) {
		if (!hm_parse_size(v, &r->stream_max_bytes) || r->stream_max_bytes > INT64_MAX)
			BAD("ring '%s': stream_max_bytes '%s' is not a size", r->name, v);
		r->set_max_bytes = true;
	} else {
		BAD("ring '%s': unknown key '%s' (known: direction, mode, policy, max_pending, "
		    "stream, subject, replicas, deliver, stream_max_age, stream_max_bytes)",
		    r->name, key);
	}
	return 1;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	hm_nats_config *c = user;
	if (!strcmp(section, "uplink")) {
		/* The first url in a file replaces the default or environment list;
		 * later ones append. */
		if (!strcmp(key, "url") && !c->urls_from_file) {
			c->urls_from_file = true;
			c->nurls = 0;
		}
		return on_uplink_key(c, key, value);
	}
	if (!strcmp(section, "nats"))
		return on_nats_key(c, key, value);
	if (!strncmp(section, "ring ", 5)) {
		const char *name = section + 5;
		while (*name == ' ')
			name++;
		hm_nats_ring_cfg *r = ring_named(c, name);
		return r ? on_ring_key(r, key, value) : 0;
	}
	BAD("unknown section [%s] (known: [uplink], [nats], [ring NAME])", section);
}

/* The timeouts' defaults (--help and hermes-nats.conf.example say them). */
#define DEFAULT_RECONNECT_WAIT_MS 100
#define DEFAULT_RECONNECT_MAX_WAIT_MS 2000
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_ACK_TIMEOUT_MS 5000

void hm_nats_config_defaults(hm_nats_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->bus, sizeof c->bus, "default");
	snprintf(c->urls[0], sizeof c->urls[0], "nats://127.0.0.1:4222");
	c->nurls = 1;
	snprintf(c->prefix, sizeof c->prefix, "hermes");
	snprintf(c->name, sizeof c->name, "hermes-nats");
	c->batch = 256;
	c->flush_immediate = true;
	c->mode = HM_NATS_MODE_CORE;
	c->policy = HM_NATS_POLICY_BLOCK;
	c->max_pending = 4u << 20;
	c->replicas = 1;
	c->reconnect_wait_ms = DEFAULT_RECONNECT_WAIT_MS;
	c->reconnect_max_wait_ms = DEFAULT_RECONNECT_MAX_WAIT_MS;
	c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	c->ack_timeout_ms = DEFAULT_ACK_TIMEOUT_MS;
	c->duplicate_window_ms = 2 * 60 * 1000;
	c->stream_max_age_ms = 24ll * 3600 * 1000;
	c->log_level = HM_DLOG_INFO;

	const char *bus = getenv("HERMES_BUS");
	if (bus && *bus && hm_segment_name_ok(bus))
		snprintf(c->bus, sizeof c->bus, "%s", bus);
	const char *url = getenv("HERMES_NATS_URL");
	if (url && *url) {
		c->nurls = 0;
		if (!add_urls(c, url)) {
			/* A bad environment list is reported by finish() as "no URL". */
			c->nurls = 0;
		}
	}
	const char *pw = getenv("HERMES_NATS_PASSWORD");
	if (pw)
		snprintf(c->password, sizeof c->password, "%s", pw);
	const char *tok = getenv("HERMES_NATS_TOKEN");
	if (tok)
		snprintf(c->token, sizeof c->token, "%s", tok);
}

hermes_err hm_nats_config_load_file(hm_nats_config *c, const char *path)
{
	return hm_ini_load(path, NULL, on_entry, c);
}

hermes_err hm_nats_config_load_string(hm_nats_config *c, const char *text)
{
	return hm_ini_load(NULL, text, on_entry, c);
}

hermes_err hm_nats_config_set(hm_nats_config *c, const char *section, const char *key, const char *value)
{
	return on_entry(c, section, key, value) ? HERMES_OK : HERMES_EINVAL;
}

hermes_err hm_nats_config_ring_spec(hm_nats_config *c, const char *spec)
{
	char buf[160];
	if (strlen(spec) >= sizeof buf)
		return hm_fail(HERMES_EINVAL, "--ring '%.40s...' is too long", spec);
	snprintf(buf, sizeof buf, "%s", spec);
	char *parts[5] = {0};
	unsigned n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ":", &save); t && n < 5;
	     t = strtok_r(NULL, ":", &save))
		parts[n++] = t;
	if (n == 0 || n > 4)
		return hm_fail(HERMES_EINVAL,
			       "--ring '%s' must be NAME[:out|in|both[:core|jetstream[:block|drop]]]", spec);
	hm_nats_ring_cfg *r = ring_named(c, parts[0]);
	if (!r)
		return HERMES_EINVAL;
	static const char *keys[] = {NULL, "direction", "mode", "policy"};
	for (unsigned i = 1; i < n; i++)
		if (!on_ring_key(r, keys[i], parts[i]))
			return HERMES_EINVAL;
	return HERMES_OK;
}

/* NATS subjects: tokens separated by '.', no empty token, no whitespace, and
 * no wildcards in a subject we publish to. */
static bool subject_ok(const char *s)
{
	if (!*s || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '*' || *s == '>' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Stream names: no '.', '*', '>', whitespace or path separators. */
static bool stream_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || strchr(".*>/\\", *s) || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* What ring r does not set itself it takes from [uplink]. */
static void inherit_defaults(const hm_nats_config *c, hm_nats_ring_cfg *r)
{
	if (!r->set_mode)
		r->mode = c->mode;
	if (!r->set_policy)
		r->policy = c->policy;
	if (!r->set_max_pending)
		r->max_pending = c->max_pending;
	if (!r->set_replicas)
		r->replicas = c->replicas;
	if (!r->set_deliver)
		r->deliver_new = c->deliver_new;
	if (!r->set_max_age)
		r->stream_max_age_ms = c->stream_max_age_ms;
	if (!r->set_max_bytes)
		r->stream_max_bytes = c->stream_max_bytes;
}

/* Ring i's defaults, subject and stream name, checked (also against the
 * subjects of the rings before it). */
static hermes_err finish_ring(hm_nats_config *c, unsigned i)
{
	hm_nats_ring_cfg *r = &c->rings[i];
	inherit_defaults(c, r);
	if (!r->subject[0]) {
		/* Built aside: r lives inside c, which the compiler cannot
		 * tell apart from c->prefix as a source. */
		char subj[sizeof r->subject];
		int n = snprintf(subj, sizeof subj, "%s.%s", c->prefix, r->name);
		if (n < 0 || (size_t)n >= sizeof subj)
			return hm_fail(HERMES_EINVAL, "ring '%s': subject '%s.%s' is too long", r->name,
				       c->prefix, r->name);
		memcpy(r->subject, subj, (size_t)n + 1);
	}
	if (!subject_ok(r->subject))
		return hm_fail(HERMES_EINVAL, "ring '%s': subject '%s' is not a valid NATS subject",
			       r->name, r->subject);
	if (!r->stream[0]) {
		/* HERMES_<RING>: upper case, and the characters a ring name may
		 * have but a stream name may not ('.') become '_'. */
		char name[sizeof r->name];
		memcpy(name, r->name, sizeof name);
		snprintf(r->stream, sizeof r->stream, "HERMES_%s", name);
		for (char *p = r->stream; *p; p++)
			*p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	}
	if (!stream_ok(r->stream))
		return hm_fail(HERMES_EINVAL,
			       "ring '%s': stream name '%s' may not contain '.', '*', '>', '/' or spaces",
			       r->name, r->stream);
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(c->rings[j].subject, r->subject))
			return hm_fail(HERMES_EINVAL, "rings '%s' and '%s' both use subject '%s'",
				       c->rings[j].name, r->name, r->subject);
	return HERMES_OK;
}

hermes_err hm_nats_config_finish(hm_nats_config *c)
{
	if (c->nurls == 0)
		return hm_fail(HERMES_EINVAL, "no NATS server URL (--url, [uplink] url or HERMES_NATS_URL)");
	if (c->nrings == 0)
		return hm_fail(HERMES_EINVAL,
			       "no ring to carry: add [ring NAME] sections or --ring NAME:DIRECTION");
	if (!subject_ok(c->prefix))
		return hm_fail(HERMES_EINVAL,
			       "prefix '%s' is not a valid NATS subject (tokens separated by '.', no "
			       "spaces or wildcards)",
			       c->prefix);
	if (c->reconnect_max_wait_ms < c->reconnect_wait_ms)
		c->reconnect_max_wait_ms = c->reconnect_wait_ms;
	if (!c->state_path[0])
		snprintf(c->state_path, sizeof c->state_path, HM_NATS_STATE_PATH_FORMAT, c->bus);
	if ((c->nkey[0] != '\0') != (c->nkey_seed[0] != '\0'))
		return hm_fail(HERMES_EINVAL, "nkey and nkey_seed go together");
	if ((c->tls_cert[0] != '\0') != (c->tls_key[0] != '\0'))
		return hm_fail(HERMES_EINVAL, "tls_cert and tls_key go together");
	for (unsigned i = 0; i < c->nrings; i++) {
		hermes_err err = finish_ring(c, i);
		if (err)
			return err;
	}
	return HERMES_OK;
}

void hm_nats_config_print(const hm_nats_config *c, void *file)
{
	FILE *f = file;
	fprintf(f, "[uplink]\nbus = %s\nurl = ", c->bus);
	for (unsigned i = 0; i < c->nurls; i++)
		fprintf(f, "%s%s", i ? "," : "", c->urls[i]);
	fprintf(f,
		"\nprefix = %s\nname = %s\nstate = %s\nbatch = %u\nflush = %s\nmode = %s\n"
		"policy = %s\n"
		"max_pending = %llu\nreplicas = %u\ndeliver = %s\nreconnect_wait = %lldms\n"
		"reconnect_max_wait = %lldms\nconnect_timeout = %lldms\nack_timeout = %lldms\n"
		"duplicate_window = %lldms\n",
		c->prefix, c->name, c->state_path, c->batch,
		c->flush_immediate ? "immediate" : "coalesce", hm_nats_mode_name(c->mode),
		hm_nats_policy_name(c->policy), (unsigned long long)c->max_pending, c->replicas,
		c->deliver_new ? "new" : "all", (long long)c->reconnect_wait_ms,
		(long long)c->reconnect_max_wait_ms, (long long)c->connect_timeout_ms,
		(long long)c->ack_timeout_ms, (long long)c->duplicate_window_ms);
	fprintf(f, "\n[nats]\nuser = %s\npassword = %s\ntoken = %s\nnkey = %s\nnkey_seed = %s\n"
		   "creds = %s\ntls = %s\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n"
		   "tls_hostname = %s\ntls_skip_verify = %s\n",
		c->user, c->password[0] ? "(set)" : "", c->token[0] ? "(set)" : "", c->nkey,
		c->nkey_seed, c->creds, c->tls ? "true" : "false", c->tls_ca, c->tls_cert,
		c->tls_key, c->tls_hostname, c->tls_skip_verify ? "true" : "false");
	for (unsigned i = 0; i < c->nrings; i++) {
		const hm_nats_ring_cfg *r = &c->rings[i];
		fprintf(f,
			"\n[ring %s]\ndirection = %s\nmode = %s\npolicy = %s\nmax_pending = %llu\n"
			"subject = %s\nstream = %s\nreplicas = %u\ndeliver = %s\n"
			"stream_max_age = %lldms\nstream_max_bytes = %llu\n",
			r->name, hm_nats_dir_name(r->dir), hm_nats_mode_name(r->mode),
			hm_nats_policy_name(r->policy), (unsigned long long)r->max_pending, r->subject,
			r->stream, r->replicas, r->deliver_new ? "new" : "all",
			(long long)r->stream_max_age_ms, (unsigned long long)r->stream_max_bytes);
	}
}
