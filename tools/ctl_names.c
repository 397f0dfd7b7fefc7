/* Client names from hermesd (see ctl_names.h). */
#include "tools/ctl_names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error_detail.h"

/* hermesd answers a names request at once; silent this long, it is stuck. */
#define NAMES_REQUEST_MS 2000

/* The request itself, into the caller's *resp. */
static hermes_err ask(const ctl_ctx *ctx, hermes_bus *bus, uint32_t op, hm_ctl_resp *resp)
{
	char path[256];
	ctl_control_path(ctx, bus, path, sizeof path);
	if (!path[0])
		return hm_fail(HERMES_ENOSUPERVISOR, "no control socket recorded in the segment");
	int fd;
	hermes_err err = hm_ctl_connect(path, &fd);
	if (err)
		return err; /* "cannot connect to PATH: REASON" */
	hm_ctl_req req = {.magic = HM_CTL_MAGIC, .op = op};
	err = hm_ctl_call(fd, &req, resp, NAMES_REQUEST_MS);
	close(fd);
	if (!err && resp->err)
		err = (hermes_err)resp->err;
	if (err)
		return hm_fail(err, "%s did not answer: %s", path, hermes_strerror(err));
	return HERMES_OK;
}

hermes_err ctl_supervisor_ask(const ctl_ctx *ctx, hermes_bus *bus, uint32_t op,
			      hm_ctl_resp **out)
{
	hm_ctl_resp *resp = malloc(sizeof *resp);
	if (!resp)
		return hm_fail(HERMES_ENOMEM, "out of memory");
	hermes_err err = ask(ctx, bus, op, resp);
	if (err) {
		free(resp);
		return err;
	}
	*out = resp;
	return HERMES_OK;
}

hermes_err ctl_names_fetch(const ctl_ctx *ctx, hermes_bus *bus, ctl_names *out)
{
	out->n = 0;
	hm_ctl_resp *resp = NULL;
	hermes_err err = ctl_supervisor_ask(ctx, bus, HM_CTL_NAMES, &resp);
	if (err)
		return err;
	/* hermesd's answer is another process's memory: each record is checked
	 * as hermesd checked what its client sent. */
	for (uint32_t i = 0; i < resp->count && i < HM_CTL_MAX_CLIENTS; i++) {
		hm_ctl_label *k = &resp->u.labels[i];
		char field[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE];
		memcpy(field, k->app, HM_APP_NAME_SIZE);
		memcpy(field + HM_APP_NAME_SIZE, k->instance, HM_APP_INSTANCE_SIZE);
		hm_ctl_label *o = &out->v[out->n];
		if (hm_app_unpack(field, o->app, o->instance) != HERMES_OK)
			continue;
		o->pid = k->pid;
		out->n++;
	}
	hm_clear_detail();
	free(resp);
	return HERMES_OK;
}

const hm_ctl_label *ctl_names_find(const ctl_names *names, pid_t pid)
{
	for (unsigned i = 0; i < names->n; i++)
		if (names->v[i].pid == pid)
			return &names->v[i];
	return NULL;
}

static void name_owner(const ctl_names *names, ctl_owner *o)
{
	const hm_ctl_label *k = o->pid > 0 ? ctl_names_find(names, o->pid) : NULL;
	o->named = k != NULL;
	snprintf(o->app, sizeof o->app, "%s", k ? k->app : "");
	snprintf(o->instance, sizeof o->instance, "%s", k ? k->instance : "");
}

void ctl_names_apply(const ctl_names *names, ctl_snap *s)
{
	for (unsigned i = 0; i < s->nrings; i++) {
		ctl_ring *r = &s->rings[i];
		for (unsigned k = 0; k < r->nprods; k++)
			name_owner(names, &r->prods[k].o);
		for (unsigned k = 0; k < r->nsubs; k++)
			name_owner(names, &r->subs[k].o); /* pid 0 (no process): unnamed */
	}
}

const char *ctl_owner_client(const ctl_owner *o)
{
	return o->named ? o->app : o->comm;
}

void ctl_names_snap(const ctl_ctx *ctx, hermes_bus *bus, ctl_snap *s)
{
	static ctl_names names;
	if (s->sup.state == CTL_SUP_UP || (ctx->run_dir && *ctx->run_dir))
		(void)ctl_names_fetch(ctx, bus, &names); /* none: no names shown */
	else
		names.n = 0;
	ctl_names_apply(&names, s);
}

const char *ctl_owner_label(const ctl_owner *o, char *buf, size_t len)
{
	if (o->named && o->instance[0])
		snprintf(buf, len, "%s/%s", o->app, o->instance);
	else
		snprintf(buf, len, "%s", ctl_owner_client(o));
	return buf;
}
