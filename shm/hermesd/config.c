#include "shm/hermesd/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ini.h"
#include "daemon/log.h"
#include "daemon/sched.h"
#include "shm/ring.h"
#include "shm/segment.h"

void hm_default_run_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0)
		snprintf(buf, len, "/run/hermes");
	else if (xdg && *xdg == '/')
		snprintf(buf, len, "%s/hermes", xdg);
	else
		snprintf(buf, len, "/tmp/hermes-%u", (unsigned)geteuid());
}

static void add_ring(hm_config *c, const char *name, uint64_t cap, uint32_t max_msg,
		     hermes_policy policy)
{
	hm_ring_decl *d = &c->rings[c->nrings++];
	snprintf(d->name, sizeof d->name, "%s", name);
	d->cfg = (hermes_ring_config){.name = d->name, .capacity = cap, .max_msg = max_msg,
				      .policy = policy};
}

void hm_config_defaults(hm_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->bus, sizeof c->bus, "default");
	hm_default_run_dir(c->run_dir, sizeof c->run_dir);
	c->size = 64ull << 20;
	c->mode = 0600;
	c->group = (gid_t)-1;
	c->log_level = HM_DLOG_INFO;
	add_ring(c, "events", 1 << 20, 64 * 1024, HERMES_POLICY_BLOCK);
	add_ring(c, "telemetry", 1 << 20, 4096, HERMES_POLICY_OVERWRITE);
	hm_config_apply_env(c);
}

void hm_config_apply_env(hm_config *c)
{
	const char *bus = getenv("HERMES_BUS");
	const char *dir = getenv("HERMES_RUN_DIR");
	if (bus && *bus)
		snprintf(c->bus, sizeof c->bus, "%s", bus);
	if (dir && *dir)
		snprintf(c->run_dir, sizeof c->run_dir, "%s", dir);
}

static const hm_ini_choice policy_names[] = {
	{"block", HERMES_POLICY_BLOCK}, {"overwrite", HERMES_POLICY_OVERWRITE}};

/* The parser: a small line-based INI reader of our own, so that nothing is
 * lost on the way (libinih cuts long section names to 49 characters and
 * never reports a section without keys). The dialect is the one documented
 * in config.h: [section], key = value (or key: value), whole-line comments
 * with ; or #, inline comments after whitespace and ;, a UTF-8 BOM. Every
 * problem is an error naming its line; nothing is silently dropped,
 * merged or cut. */

#define MAX_FILE (1 << 20) /* a configuration file is small: read whole */
#define MAX_LINE 1024
#define MAX_KEYS 512

typedef struct parse_state {
	hm_config *c;
	bool file_rings; /* the first [ring] section drops the default rings */
	int line;
	int bus_line;	 /* where [bus] was, 0 before */
	int section;	 /* -1: none yet; -2: [bus]; else the ring's index */
	int ring_line[HM_MAX_RINGS];
	unsigned nkeys;
	struct {
		int section;
		int line;
		char key[32];
	} keys[MAX_KEYS];
} parse_state;

#define BAD(...) HM_INI_FAIL(__VA_ARGS__)

static int on_bus_key(hm_config *c, const char *key, const char *v)
{
	if (!strcmp(key, "name")) {
		if (strlen(v) >= sizeof c->bus)
			BAD("bus name '%s' is too long (at most %d characters)", v, HERMES_NAME_MAX);
		snprintf(c->bus, sizeof c->bus, "%s", v);
	} else if (!strcmp(key, "size")) {
		if (!hm_parse_size(v, &c->size))
			BAD("size '%s' is not a size (e.g. 64M; suffixes K, M, G, T)", v);
	} else if (!strcmp(key, "mode")) {
		char *end;
		unsigned long m = strtoul(v, &end, 8);
		if (*end || !*v || m > 0777)
			BAD("mode '%s' is not an octal mode like 0600", v);
		c->mode = (unsigned)m;
	} else if (!strcmp(key, "group")) {
		if (!*v) {
			c->group = (gid_t)-1;
		} else if (isdigit((unsigned char)*v)) {
			char *end;
			unsigned long g = strtoul(v, &end, 10);
			if (*end || g >= (gid_t)-1)
				BAD("group '%s' is not a group name or gid", v);
			c->group = (gid_t)g;
		} else {
			struct group *g = getgrnam(v);
			if (!g)
				BAD("group '%s' does not exist", v);
			c->group = g->gr_gid;
		}
	} else if (!strcmp(key, "run_dir")) {
		if (*v != '/' || strlen(v) >= sizeof c->run_dir - 64)
			BAD("run_dir '%s' must be an absolute path (under 136 characters)", v);
		snprintf(c->run_dir, sizeof c->run_dir, "%s", v);
	} else if (!strcmp(key, "remove_on_exit")) {
		if (!hm_ini_bool(v, &c->remove_on_exit))
			BAD("remove_on_exit '%s' must be true or false", v);
	} else if (!strcmp(key, "cpu_affinity")) {
		c->have_cpus = *v != '\0';
		if (c->have_cpus && !hm_parse_cpus(v, &c->cpus))
			BAD("cpu_affinity '%s' must be a CPU list like 2,3 or 4-7", v);
	} else if (!strcmp(key, "rt_priority")) {
		char *end;
		long p = strtol(v, &end, 10);
		if (*end || !*v || p < 0 || p > 99)
			BAD("rt_priority '%s' must be 0 (off) to 99", v);
		c->rt_priority = (int)p;
	} else if (!strcmp(key, "log_level")) {
		return hm_ini_log_level(v, &c->log_level);
	} else {
		BAD("unknown key '%s' in [bus] (known: name, size, mode, group, run_dir, "
		    "remove_on_exit, cpu_affinity, rt_priority, log_level)",
		    key);
	}
	return 1;
}

static int on_ring_key(hm_ring_decl *d, const char *key, const char *v)
{
	uint64_t n;
	if (!strcmp(key, "capacity")) {
		if (!hm_parse_size(v, &d->cfg.capacity))
			BAD("ring '%s': capacity '%s' is not a size", d->name, v);
	} else if (!strcmp(key, "max_msg")) {
		if (!hm_parse_size(v, &n) || n > UINT32_MAX)
			BAD("ring '%s': max_msg '%s' is not a size", d->name, v);
		d->cfg.max_msg = (uint32_t)n;
	} else if (!strcmp(key, "slots")) {
		if (!hm_parse_size(v, &n) || n > UINT32_MAX)
			BAD("ring '%s': slots '%s' is not a number", d->name, v);
		d->cfg.slots = (uint32_t)n;
	} else if (!strcmp(key, "policy")) {
		unsigned policy;
		if (!HM_INI_CHOOSE(v, policy_names, &policy))
			BAD("ring '%s': policy '%s' must be block or overwrite", d->name, v);
		d->cfg.policy = (hermes_policy)policy;
	} else {
		BAD("ring '%s': unknown key '%s' (known: capacity, max_msg, policy, slots)", d->name,
		    key);
	}
	return 1;
}

static int on_section(parse_state *ps, const char *section)
{
	hm_config *c = ps->c;
	if (!strcmp(section, "bus")) {
		if (ps->bus_line)
			BAD("[bus] appears twice (first at line %d)", ps->bus_line);
		ps->bus_line = ps->line;
		ps->section = -2;
		return 1;
	}
	if (strncmp(section, "ring", 4) != 0 || (section[4] != ' ' && section[4] != '\t'))
		BAD("unknown section [%s] (known: [bus], [ring NAME])", section);
	const char *name = section + 5;
	while (*name == ' ' || *name == '\t')
		name++;
	if (!hm_name_ok(name))
		BAD("ring name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -", name,
		    HERMES_NAME_MAX);
	if (!ps->file_rings) {
		ps->file_rings = true;
		c->nrings = 0;
	}
	for (unsigned i = 0; i < c->nrings; i++)
		if (!strcmp(c->rings[i].name, name))
			BAD("[ring %s] appears twice (first at line %d)", name, ps->ring_line[i]);
	if (c->nrings == HM_MAX_RINGS)
		BAD("more than %u rings", HM_MAX_RINGS);
	/* A section with no keys is a ring with every default. */
	add_ring(c, name, 1 << 20, 4096, HERMES_POLICY_BLOCK);
	ps->ring_line[c->nrings - 1] = ps->line;
	ps->section = (int)c->nrings - 1;
	return 1;
}

static int on_key(parse_state *ps, const char *key, const char *value)
{
	hm_config *c = ps->c;
	if (ps->section == -1)
		BAD("'%s' before any section ([bus] or [ring NAME])", key);
	for (unsigned i = 0; i < ps->nkeys; i++)
		if (ps->keys[i].section == ps->section && !strcmp(ps->keys[i].key, key))
			BAD("'%s' is set twice in this section (first at line %d)", key,
			    ps->keys[i].line);
	if (ps->nkeys < MAX_KEYS && strlen(key) < sizeof ps->keys[0].key) {
		ps->keys[ps->nkeys].section = ps->section;
		ps->keys[ps->nkeys].line = ps->line;
		snprintf(ps->keys[ps->nkeys].key, sizeof ps->keys[0].key, "%s", key);
		ps->nkeys++;
	}
	if (ps->section == -2)
		return on_bus_key(c, key, value);
	return on_ring_key(&c->rings[ps->section], key, value);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Cut an inline comment: ';' after whitespace. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == ';' && p > s && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

/* One line; 1 when fine, 0 with the reason in the detail. */
static int parse_line(parse_state *ps, char *s)
{
	s = trim(s);
	if (!*s || *s == ';' || *s == '#')
		return 1;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (!end)
			BAD("a section header needs its closing ']'");
		*end = '\0';
		char *rest = end + 1;
		cut_comment(rest);
		if (*trim(rest))
			BAD("unexpected text after [%s]", s + 1);
		return on_section(ps, trim(s + 1));
	}
	char *eq = strpbrk(s, "=:");
	if (!eq)
		BAD("expected 'key = value' or a [section]");
	*eq = '\0';
	char *value = eq + 1;
	cut_comment(value);
	char *key = trim(s);
	if (!*key)
		BAD("a value without a key");
	return on_key(ps, key, trim(value));
}

/* Parse text (of file, NULL for a string); an error says "FILE:LINE: why"
 * or "line LINE: why", like the other daemons' (hm_ini_result). */
static hermes_err parse_text(hm_config *c, const char *text, const char *file)
{
	parse_state ps = {.c = c, .section = -1};
	const char *p = text;
	if (!strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	while (*p) {
		ps.line++;
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char buf[MAX_LINE];
		int ok;
		if (n >= sizeof buf) {
			(void)hm_fail(HERMES_EINVAL, "longer than %d characters", MAX_LINE - 1);
			ok = 0;
		} else {
			memcpy(buf, p, n);
			buf[n] = '\0';
			ok = parse_line(&ps, buf);
		}
		if (!ok)
			return hm_ini_result(ps.line, file);
		p += n + (eol != NULL);
	}
	return HERMES_OK;
}

hermes_err hm_config_load_file(hm_config *c, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return hm_fail(HERMES_EINVAL, "cannot read %s: %s", path, strerror(errno));
	/* A configuration file is small: read it whole (bounded). */
	static char text[MAX_FILE];
	size_t n = fread(text, 1, sizeof text - 1, f);
	bool err = ferror(f), big = !feof(f) && n == sizeof text - 1;
	fclose(f);
	if (err || big)
		return hm_fail(HERMES_EINVAL, "cannot read %s: %s", path,
			       big ? "larger than 1 MiB" : strerror(errno));
	text[n] = '\0';
	if (strlen(text) != n)
		return hm_fail(HERMES_EINVAL, "%s contains a NUL byte: not a text file", path);
	return parse_text(c, text, path);
}

hermes_err hm_config_load_string(hm_config *c, const char *text)
{
	return parse_text(c, text, NULL);
}

hermes_err hm_config_set(hm_config *c, const char *key, const char *value)
{
	return on_bus_key(c, key, value) ? HERMES_OK : HERMES_EINVAL;
}

hermes_err hm_config_check(hm_config *c)
{
	if (!hm_segment_name_ok(c->bus))
		return hm_fail(HERMES_EINVAL,
			       "bus name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -", c->bus,
			       HERMES_NAME_MAX);
	if (c->mode & 0002)
		return hm_fail(HERMES_EINVAL, "mode %04o is world-writable; refused", c->mode);
	if (c->size < (64u << 10) || c->size > (1ull << 44))
		return hm_fail(HERMES_EINVAL, "size %llu must be between 64K and 16T",
			       (unsigned long long)c->size);
	uint64_t need = HM_SEG_HEADER_SIZE + HM_MAX_RINGS * sizeof(hm_ring_desc) + 4096;
	for (unsigned i = 0; i < c->nrings; i++) {
		hm_ring_decl *d = &c->rings[i];
		d->cfg.name = d->name;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->rings[j].name, d->name))
				return hm_fail(HERMES_EINVAL, "ring '%s' is declared twice", d->name);
		if (hm_ring_check_config(&d->cfg))
			return HERMES_EINVAL; /* the detail says which value is wrong */
		need += hm_segment_page_up(hm_ring_block_size(d->cfg.capacity, hm_ring_slots(&d->cfg)));
	}
	if (need > c->size)
		return hm_fail(HERMES_EINVAL,
			       "the rings need %llu bytes but the segment size is %llu: raise [bus] size",
			       (unsigned long long)need, (unsigned long long)c->size);
	return HERMES_OK;
}
