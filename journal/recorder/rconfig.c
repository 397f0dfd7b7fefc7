/* hermes-journal's configuration. See rconfig.h. */
#include "journal/recorder/rconfig.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"
#include "daemon/ini.h"
#include "daemon/log.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define DEFAULT_FILE_SIZE (64ull << 20)
#define DEFAULT_FSYNC_INTERVAL_NS 1000000000ull
#define FILE_ALIGN 4096u  /* segment files are whole pages */
#define DIR_RESERVE 32u	  /* room after a ring's directory for its file names */
#define SEEN_BUS 1u	  /* [journal] keys given, in hm_rec_config.seen */
#define SEEN_LOG_LEVEL 2u

#define BAD(...) HM_INI_FAIL(__VA_ARGS__)

const char *hm_rec_fsync_name(int f)
{
	return f == HM_REC_FSYNC_BATCH ? "batch" : f == HM_REC_FSYNC_INTERVAL ? "interval" : "none";
}

static void ring_defaults(hm_rec_ring_conf *r)
{
	memset(r, 0, sizeof *r);
	r->opts.file_size = DEFAULT_FILE_SIZE;
	r->opts.index_stride = HM_JOURNAL_DEFAULT_STRIDE;
	r->fsync = HM_REC_FSYNC_NONE;
	r->fsync_interval_ns = DEFAULT_FSYNC_INTERVAL_NS;
}

void hm_rec_config_defaults(hm_rec_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->bus, sizeof c->bus, "default");
	c->log_level = HM_DLOG_INFO;
}

/* Durations in hermes-journal's keys: a bare number is seconds. */
#define BARE_SECONDS 1000000000ull

static bool seen_once(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return false;
	*seen |= bit;
	return true;
}

static int ring_key(hm_rec_ring_conf *r, const char *key, const char *val)
{
	static const char *keys[] = {"journal", "file_size", "retention_bytes", "retention_age",
				     "fsync", "fsync_interval", "durable"};
	unsigned k = 0;
	while (k < sizeof keys / sizeof keys[0] && strcmp(key, keys[k]))
		k++;
	if (k == sizeof keys / sizeof keys[0])
		BAD("unknown key '%s' in [ring %s]", key, r->name);
	if (!seen_once(&r->seen, 1u << k))
		BAD("duplicate key '%s' in [ring %s]", key, r->name);
	switch (k) {
	case 0:
		if (val[0] != '/' || strlen(val) >= sizeof r->dir - DIR_RESERVE)
			BAD("journal = '%s': an absolute directory path", val);
		snprintf(r->dir, sizeof r->dir, "%s", val);
		break;
	case 1:
		if (!hm_parse_size(val, &r->opts.file_size) || r->opts.file_size < HM_JOURNAL_MIN_FILE ||
		    r->opts.file_size > HM_JOURNAL_MAX_FILE || r->opts.file_size % FILE_ALIGN)
			BAD("file_size = '%s': a multiple of 4K from 64K to 1T", val);
		break;
	case 2:
		if (!hm_parse_size(val, &r->opts.retain_bytes))
			BAD("retention_bytes = '%s': a size like 10G, or 0", val);
		break;
	case 3:
		if (!hm_parse_duration_ns(val, BARE_SECONDS, &r->opts.retain_age_ns))
			BAD("retention_age = '%s': a duration like 7d, 12h, or 0", val);
		break;
	case 4: {
		static const hm_ini_choice fsyncs[] = {
			{"none", HM_REC_FSYNC_NONE}, {"interval", HM_REC_FSYNC_INTERVAL}, {"batch", HM_REC_FSYNC_BATCH}};
		unsigned f;
		if (!HM_INI_CHOOSE(val, fsyncs, &f))
			BAD("fsync = '%s': none, interval or batch", val);
		r->fsync = (int)f;
		break;
	}
	case 5:
		if (!hm_parse_duration_ns(val, BARE_SECONDS, &r->fsync_interval_ns) || r->fsync_interval_ns == 0)
			BAD("fsync_interval = '%s': a duration like 1s or 100ms", val);
		break;
	default:
		if (!hm_ini_bool(val, &r->durable))
			BAD("durable = '%s': true or false", val);
		break;
	}
	return 1;
}

static int on_entry(void *user, const char *section, const char *key, const char *val)
{
	hm_rec_config *c = user;
	if (!*val)
		BAD("'%s' has no value", key);
	if (!strcmp(section, "journal")) {
		if (!strcmp(key, "bus")) {
			if (!seen_once(&c->seen, SEEN_BUS) || !hm_segment_name_ok(val))
				BAD("bus = '%s': duplicate or not a bus name", val);
			snprintf(c->bus, sizeof c->bus, "%s", val);
		} else if (!strcmp(key, "log_level")) {
			if (!seen_once(&c->seen, SEEN_LOG_LEVEL))
				BAD("duplicate key 'log_level' in [journal]");
			return hm_ini_log_level(val, &c->log_level);
		} else {
			BAD("unknown key '%s' in [journal]", key);
		}
		return 1;
	}
	if (!strncmp(section, "ring ", 5)) {
		const char *name = section + 5;
		hm_rec_ring_conf *r = NULL;
		for (unsigned i = 0; i < c->nrings; i++)
			if (!strcmp(c->rings[i].name, name))
				r = &c->rings[i];
		if (!r) {
			if (!hm_name_ok(name))
				BAD("[ring %s]: not a ring name", name);
			if (c->nrings == HM_REC_MAX_RINGS)
				BAD("more than %d rings", HM_REC_MAX_RINGS);
			r = &c->rings[c->nrings++];
			ring_defaults(r);
			snprintf(r->name, sizeof r->name, "%s", name);
		}
		return ring_key(r, key, val);
	}
	BAD("unknown section [%s]", section);
}

hermes_err hm_rec_config_load_file(hm_rec_config *c, const char *path)
{
	return hm_ini_load(path, NULL, on_entry, c);
}

hermes_err hm_rec_config_load_string(hm_rec_config *c, const char *text)
{
	return hm_ini_load(NULL, text, on_entry, c);
}

hermes_err hm_rec_config_add_ring(hm_rec_config *c, const char *spec)
{
	const char *colon = strchr(spec, ':');
	char name[HERMES_NAME_MAX + 2];
	size_t n = colon ? (size_t)(colon - spec) : 0;
	if (!colon || n == 0 || n > HERMES_NAME_MAX)
		return hm_fail(HERMES_EINVAL, "'%.250s': NAME:DIR", spec);
	memcpy(name, spec, n);
	name[n] = '\0';
	char section[HERMES_NAME_MAX + 8];
	snprintf(section, sizeof section, "ring %s", name);
	return on_entry(c, section, "journal", colon + 1) ? HERMES_OK : HERMES_EINVAL;
}

hermes_err hm_rec_config_set(hm_rec_config *c, const char *section, const char *key, const char *value)
{
	(void)section;
	if (!strcmp(key, "ring"))
		return hm_rec_config_add_ring(c, value);
	/* The command line overrides the file: its [journal] keys once more. */
	c->seen &= ~(!strcmp(key, "bus") ? SEEN_BUS : !strcmp(key, "log_level") ? SEEN_LOG_LEVEL : 0u);
	return on_entry(c, "journal", key, value) ? HERMES_OK : HERMES_EINVAL;
}

void hm_rec_config_apply_env(hm_rec_config *c)
{
	const char *bus = getenv("HERMES_BUS");
	if (bus && *bus && !(c->seen & SEEN_BUS))
		snprintf(c->bus, sizeof c->bus, "%s", bus);
}

hermes_err hm_rec_config_check(hm_rec_config *c)
{
	if (c->nrings == 0)
		return hm_fail(HERMES_EINVAL, "no ring to journal: add a [ring NAME] section or --ring");
	for (unsigned i = 0; i < c->nrings; i++) {
		hm_rec_ring_conf *r = &c->rings[i];
		if (!r->dir[0])
			return hm_fail(HERMES_EINVAL, "[ring %s] has no journal = DIR", r->name);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->rings[j].dir, r->dir))
				return hm_fail(HERMES_EINVAL, "rings %s and %s share the journal %.150s",
					       c->rings[j].name, r->name, r->dir);
	}
	return HERMES_OK;
}
