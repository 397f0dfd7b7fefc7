#include "shm/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/proc.h"
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
	c->log_level = HM_LOG_INFO;
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

bool hm_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !isdigit((unsigned char)*s))
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return false;
	}
	if (shift) {
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return false;
	return true;
}

typedef struct parse_state {
	hm_config *c;
	bool file_rings; /* the first [ring] section drops the default rings */
	int line;
} parse_state;

#define BAD(...)                                                                          \
	do {                                                                              \
		snprintf(c->error, sizeof c->error, __VA_ARGS__);                         \
		return 0;                                                                 \
	} while (0)

static int on_bus_key(hm_config *c, const char *key, const char *v)
{
	if (!strcmp(key, "name")) {
		if (strlen(v) >= sizeof c->bus)
			BAD("bus name '%s' is too long", v);
		snprintf(c->bus, sizeof c->bus, "%s", v);
	} else if (!strcmp(key, "size")) {
		if (!hm_parse_size(v, &c->size))
			BAD("size '%s' is not a size (e.g. 64M)", v);
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
			c->group = (gid_t)strtoul(v, NULL, 10);
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
		if (!parse_bool(v, &c->remove_on_exit))
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
		static const char *levels[] = {"error", "warn", "info", "debug"};
		int i;
		for (i = 0; i < 4 && strcmp(v, levels[i]); i++)
			;
		if (i == 4)
			BAD("log_level '%s' must be error, warn, info or debug", v);
		c->log_level = i;
	} else {
		BAD("unknown key '%s' in [bus] (known: name, size, mode, group, run_dir, "
		    "remove_on_exit, cpu_affinity, rt_priority, log_level)",
		    key);
	}
	return 1;
}

static int on_ring_key(hm_config *c, hm_ring_decl *d, const char *key, const char *v)
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
		if (!strcmp(v, "block"))
			d->cfg.policy = HERMES_POLICY_BLOCK;
		else if (!strcmp(v, "overwrite"))
			d->cfg.policy = HERMES_POLICY_OVERWRITE;
		else
			BAD("ring '%s': policy '%s' must be block or overwrite", d->name, v);
	} else {
		BAD("ring '%s': unknown key '%s' (known: capacity, max_msg, policy, slots)", d->name,
		    key);
	}
	return 1;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	parse_state *ps = user;
	hm_config *c = ps->c;
	if (!strcmp(section, "bus"))
		return on_bus_key(c, key, value);
	if (!strncmp(section, "ring ", 5)) {
		const char *name = section + 5;
		while (*name == ' ')
			name++;
		if (!ps->file_rings) {
			ps->file_rings = true;
			c->nrings = 0;
		}
		hm_ring_decl *d = NULL;
		for (unsigned i = 0; i < c->nrings; i++)
			if (!strcmp(c->rings[i].name, name))
				d = &c->rings[i];
		if (!d) {
			if (c->nrings == HM_MAX_RINGS)
				BAD("more than %u rings", HM_MAX_RINGS);
			if (strlen(name) > HERMES_NAME_MAX)
				BAD("ring name '%s' is too long", name);
			add_ring(c, name, 1 << 20, 4096, HERMES_POLICY_BLOCK);
			d = &c->rings[c->nrings - 1];
		}
		return on_ring_key(c, d, key, value);
	}
	BAD("unknown section [%s] (known: [bus], [ring NAME])", section);
}

static hermes_err finish(hm_config *c, int r)
{
	if (r == -1) {
		snprintf(c->error, sizeof c->error, "cannot read the file: %s", strerror(errno));
		return HERMES_EINVAL;
	}
	if (r > 0) {
		char why[sizeof c->error];
		snprintf(why, sizeof why, "%s", c->error[0] ? c->error : "syntax error");
		snprintf(c->error, sizeof c->error, "line %d: %.200s", r, why);
		return HERMES_EINVAL;
	}
	if (r < 0) {
		snprintf(c->error, sizeof c->error, "out of memory while parsing");
		return HERMES_ENOMEM;
	}
	return HERMES_OK;
}

hermes_err hm_config_load_file(hm_config *c, const char *path)
{
	parse_state ps = {.c = c};
	c->error[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(c->error, sizeof c->error, "cannot read %s: %s", path, strerror(errno));
		return HERMES_EINVAL;
	}
	int r = ini_parse_file(f, on_entry, &ps);
	fclose(f);
	return finish(c, r);
}

hermes_err hm_config_load_string(hm_config *c, const char *text)
{
	parse_state ps = {.c = c};
	c->error[0] = '\0';
	return finish(c, ini_parse_string(text, on_entry, &ps));
}

hermes_err hm_config_check(hm_config *c)
{
	if (!hm_segment_name_ok(c->bus)) {
		snprintf(c->error, sizeof c->error,
			 "bus name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -", c->bus,
			 HERMES_NAME_MAX);
		return HERMES_EINVAL;
	}
	if (c->mode & 0002) {
		snprintf(c->error, sizeof c->error, "mode %04o is world-writable; refused", c->mode);
		return HERMES_EINVAL;
	}
	if (c->size < (64u << 10) || c->size > (1ull << 44)) {
		snprintf(c->error, sizeof c->error, "size %llu must be between 64K and 16T",
			 (unsigned long long)c->size);
		return HERMES_EINVAL;
	}
	uint64_t need = HM_SEG_HEADER_SIZE + HM_MAX_RINGS * sizeof(hm_ring_desc) + 4096;
	for (unsigned i = 0; i < c->nrings; i++) {
		hm_ring_decl *d = &c->rings[i];
		d->cfg.name = d->name;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->rings[j].name, d->name)) {
				snprintf(c->error, sizeof c->error, "ring '%s' is declared twice",
					 d->name);
				return HERMES_EINVAL;
			}
		if (hm_ring_check_config(&d->cfg)) {
			snprintf(c->error, sizeof c->error, "%s", hermes_last_error_detail());
			return HERMES_EINVAL;
		}
		need += (hm_ring_block_size(d->cfg.capacity, hm_ring_slots(&d->cfg)) + 4095) & ~4095ull;
	}
	if (need > c->size) {
		snprintf(c->error, sizeof c->error,
			 "the rings need %llu bytes but the segment size is %llu: raise [bus] size",
			 (unsigned long long)need, (unsigned long long)c->size);
		return HERMES_EINVAL;
	}
	return HERMES_OK;
}
