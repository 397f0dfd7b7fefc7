/* `journal list|inspect|verify DIR`: a ring's journal on disk (journal/),
 * read-only, with or without a recorder running and without the bus. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/proc.h"
#include "journal/journal.h"
#include "journal/rstats.h"
#include "tools/ctl.h"
#include "tools/json.h"

typedef struct jstate {
	json_w *json;	    /* NULL: text */
	bool verify;
	bool list;
	uint64_t files, bytes, messages, corrupt, torn, bad_headers, holes;
	uint64_t first, next; /* sequences covered: [first, next) */
	bool have_next;
} jstate;

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

static void on_corrupt(void *ctx, uint64_t first, uint64_t count, uint64_t off)
{
	jstate *s = ctx;
	s->corrupt += count;
	if (s->verify && !s->json)
		printf("corrupt: sequence %llu (%llu sequence(s)) at offset %llu: checksum or structure "
		       "does not match; readers skip it\n",
		       ull(first), ull(count), ull(off));
}

static void fmt_time(char *buf, size_t len, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	if (!ns || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

static void on_file(void *ctx, const hm_jfile_report *r)
{
	jstate *s = ctx;
	s->files++;
	s->bytes += r->bytes;
	if (s->files == 1)
		s->first = r->first_seq;
	uint64_t next = r->header ? r->first_seq : r->scan.next_seq;
	if (s->have_next && r->first_seq != s->next) {
		s->holes++;
		if (s->verify && !s->json)
			printf("hole: sequences %llu..%llu are in no file\n", ull(s->next), ull(r->first_seq - 1));
	}
	if (r->header) {
		s->bad_headers++;
		if (!s->json)
			printf("file %020llu" HM_JOURNAL_SUFFIX ": unreadable: %s\n", ull(r->first_seq), r->error);
	} else {
		s->messages += r->scan.messages;
		s->torn += r->scan.torn;
		if (s->verify && r->scan.torn && !s->json)
			printf("torn tail: file %020llu" HM_JOURNAL_SUFFIX " after sequence %llu (offset %llu); "
			       "the recorder cuts it when it opens the journal\n",
			       ull(r->first_seq), ull(r->scan.next_seq), ull(r->scan.tail_off));
	}
	s->next = next;
	s->have_next = true;
	if (!s->list)
		return;
	char created[32], last[32];
	fmt_time(created, sizeof created, r->fi.created_ns);
	fmt_time(last, sizeof last, r->scan.last_time_ns);
	if (s->json) {
		json_obj_begin(s->json);
		json_ku64(s->json, "first_seq", r->first_seq);
		json_ku64(s->json, "next_seq", next);
		json_ku64(s->json, "bytes", r->bytes);
		json_kbool(s->json, "header_ok", r->header == HERMES_OK);
		json_ku64(s->json, "records", r->scan.records);
		json_ku64(s->json, "messages", r->scan.messages);
		json_ku64(s->json, "used_bytes", r->header ? 0 : r->scan.tail_off);
		json_kbool(s->json, "sealed", r->scan.sealed);
		json_kbool(s->json, "torn", r->scan.torn);
		json_ku64(s->json, "corrupt", r->scan.corrupt);
		json_kstr(s->json, "created", created);
		json_kstr(s->json, "last_record", last);
		json_obj_end(s->json);
	} else if (!r->header) {
		printf("%020llu%s  %20llu %10llu %10llu %5.1f%% %-6s %s  %s\n", ull(r->first_seq), HM_JOURNAL_SUFFIX,
		       ull(next), ull(r->scan.messages), ull(r->bytes),
		       100.0 * (double)r->scan.tail_off / (double)(r->bytes ? r->bytes : 1),
		       r->scan.sealed ? "sealed" : r->scan.torn ? "torn" : "open", created, last);
	}
}

static int scan_dir(const char *dir, jstate *s)
{
	hermes_err e = hm_jdir_scan(dir, on_file, on_corrupt, s);
	if (e) {
		ctl_error("journal %s: %s", dir, hermes_last_error_detail());
		return CTL_EXIT_ERR;
	}
	return CTL_EXIT_OK;
}

static void recorder_text(const char *dir)
{
	const hm_rec_stats *st;
	if (hm_rec_stats_open_readonly(dir, &st) != HERMES_OK) {
		printf("recorder: no counters file (never recorded here)\n");
		return;
	}
	static const char *states[] = {"stopped", "waiting for the ring", "recording", "disk full"};
	uint64_t pid = hm_load_relaxed_u64(&st->pid), state = hm_load_relaxed_u64(&st->state);
	bool alive = pid && hm_proc_alive((pid_t)pid, hm_load_relaxed_u64(&st->start_time));
	char err[sizeof st->last_error];
	hm_rec_stats_error_text(st, err);
	printf("recorder: %s", alive ? (state < 4 ? states[state] : "?") : "not running");
	if (alive)
		printf(" (pid %llu)", ull(pid));
	printf("; recorded %llu messages, %llu bytes; gaps %llu, lost %llu, dropped %llu, disk full %llu, "
	       "write errors %llu, restarts %llu, torn tails cut %llu\n",
	       ull(hm_load_relaxed_u64(&st->messages)), ull(hm_load_relaxed_u64(&st->bytes)),
	       ull(hm_load_relaxed_u64(&st->gaps)), ull(hm_load_relaxed_u64(&st->lost)),
	       ull(hm_load_relaxed_u64(&st->dropped)), ull(hm_load_relaxed_u64(&st->disk_full)),
	       ull(hm_load_relaxed_u64(&st->write_errors)), ull(hm_load_relaxed_u64(&st->restarts)),
	       ull(hm_load_relaxed_u64(&st->torn_cuts)));
	if (err[0])
		printf("last error: %s\n", err);
	hm_rec_stats_close(st);
}

static void summary_json(json_w *w, const jstate *s)
{
	json_ku64(w, "files", s->files);
	json_ku64(w, "bytes", s->bytes);
	json_ku64(w, "first_seq", s->files ? s->first : 0);
	json_ku64(w, "next_seq", s->files ? s->next : 0);
	json_ku64(w, "messages", s->messages);
	json_ku64(w, "corrupt", s->corrupt);
	json_ku64(w, "torn", s->torn);
	json_ku64(w, "unreadable_files", s->bad_headers);
	json_ku64(w, "holes", s->holes);
}

/* journal list: one line (or object) a file. */
static int journal_list(const char *dir, jstate *s)
{
	s->list = true;
	if (s->json) {
		json_obj_begin(s->json);
		json_kstr(s->json, "journal", dir);
		json_key(s->json, "files");
		json_arr_begin(s->json);
	} else {
		printf("%-24s  %20s %10s %10s %6s %-6s %-20s  %s\n", "FILE", "NEXT_SEQ", "MESSAGES", "BYTES",
		       "USED", "STATE", "CREATED", "LAST RECORD");
	}
	int r = scan_dir(dir, s);
	if (s->json) {
		json_arr_end(s->json);
		json_obj_end(s->json);
		json_finish(s->json);
	}
	return r;
}

/* journal inspect: the summary, and the recorder's state. */
static int journal_inspect(const char *dir, jstate *s)
{
	int r;
	if ((r = scan_dir(dir, s)) != CTL_EXIT_OK)
		return r;
	if (s->json) {
		json_obj_begin(s->json);
		json_kstr(s->json, "journal", dir);
		summary_json(s->json, s);
		json_obj_end(s->json);
		json_finish(s->json);
		return CTL_EXIT_OK;
	}
	printf("journal %s: %llu file(s), %llu bytes\n", dir, ull(s->files), ull(s->bytes));
	if (s->files)
		printf("sequences %llu..%llu (next %llu): %llu messages\n", ull(s->first),
		       ull(s->next ? s->next - 1 : 0), ull(s->next), ull(s->messages));
	if (s->corrupt || s->torn || s->bad_headers || s->holes)
		printf("problems: %llu corrupt sequence(s), %llu torn tail(s), %llu unreadable file(s), "
		       "%llu hole(s); run 'hermes-ctl journal verify %s'\n",
		       ull(s->corrupt), ull(s->torn), ull(s->bad_headers), ull(s->holes), dir);
	recorder_text(dir);
	return CTL_EXIT_OK;
}

/* journal verify: every record's checksum; exit 1 on problems. */
static int journal_verify(const char *dir, jstate *s)
{
	int r;
	s->verify = true;
	if ((r = scan_dir(dir, s)) != CTL_EXIT_OK)
		return r;
	bool ok = !s->corrupt && !s->bad_headers && !s->holes;
	if (s->json) {
		json_obj_begin(s->json);
		json_kstr(s->json, "journal", dir);
		json_kbool(s->json, "ok", ok);
		summary_json(s->json, s);
		json_obj_end(s->json);
		json_finish(s->json);
	} else {
		printf("%s: %llu file(s), %llu messages, sequences %llu..%llu: %s\n", dir, ull(s->files),
		       ull(s->messages), ull(s->files ? s->first : 0), ull(s->next ? s->next - 1 : 0),
		       ok ? (s->torn ? "ok (a torn tail, cut when the recorder opens it)" : "ok")
			  : "PROBLEMS (above)");
	}
	return ok ? CTL_EXIT_OK : CTL_EXIT_ERR;
}

int cmd_journal(ctl_ctx *ctx, int argc, char **argv)
{
	int r = ctl_common_options_only(ctx, argc, argv, -1, NULL);
	if (r >= 0)
		return r;
	if (optind + 2 != argc)
		return ctl_usage_error(ctx, "hermes-ctl journal list|inspect|verify DIR");
	const char *what = argv[optind], *dir = argv[optind + 1];
	jstate s = {0};
	json_w w;
	if (ctx->json) {
		json_init(&w, stdout);
		s.json = &w;
	}
	if (!strcmp(what, "list"))
		return journal_list(dir, &s);
	if (!strcmp(what, "inspect"))
		return journal_inspect(dir, &s);
	if (!strcmp(what, "verify"))
		return journal_verify(dir, &s);
	return ctl_usage_error(ctx, "journal wants list, inspect or verify, not '%s'", what);
}

int cmd_durable(ctl_ctx *ctx, int argc, char **argv)
{
	int r = ctl_common_options_only(ctx, argc, argv, -1, NULL);
	if (r >= 0)
		return r;
	if (optind + 3 != argc || strcmp(argv[optind], "drop") != 0)
		return ctl_usage_error(ctx, "hermes-ctl durable drop RING NAME");
	const char *ring = argv[optind + 1], *name = argv[optind + 2];
	hermes_bus *bus;
	if ((r = ctl_attach(ctx, false, &bus)) != 0)
		return r;
	hermes_err err = hermes_sub_drop_durable(bus, ring, name);
	hermes_bus_detach(bus);
	if (err) {
		ctl_error("bus '%s': %s (%s)", ctx->bus, hermes_last_error_detail(), hermes_strerror(err));
		return CTL_EXIT_ERR;
	}
	printf("bus '%s': ring '%s': durable subscriber '%s' dropped; its producers go on\n", ctx->bus,
	       ring, name);
	return CTL_EXIT_OK;
}
