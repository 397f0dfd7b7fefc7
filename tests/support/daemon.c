#include "tests/support/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hermes/bus.h>

#include "tests/support/process.h"
#include "tests/support/testing.h"

#ifndef HERMESD_PATH
#error "HERMESD_PATH must name the hermesd binary"
#endif
#ifndef HERMES_CTL_PATH
#error "HERMES_CTL_PATH must name the hermes-ctl binary"
#endif

const char *ht_hermesd_path(void)
{
	return HERMESD_PATH;
}

void ht_daemon_init(ht_daemon *d, const char *tag)
{
	memset(d, 0, sizeof *d);
	d->notify_fd = -1;
	ht_unique_name(d->bus, sizeof d->bus, tag);
	ht_temp_dir(d->run_dir, sizeof d->run_dir);
	snprintf(d->log, sizeof d->log, "%s/hermesd.log", d->run_dir);
	snprintf(d->notify, sizeof d->notify, "%s/notify", d->run_dir);
	snprintf(d->conf, sizeof d->conf, "%s/hermesd.conf", d->run_dir);
}

/* hermesd (and hermes-ctl) read the run directory from the environment
 * too; the test's --run-dir must be the one they use. */
static void daemon_env(void)
{
	unsetenv("HERMES_RUN_DIR");
}

static ht_spawn_spec spec(ht_daemon *d, const char *const *argv, bool notify)
{
	return (ht_spawn_spec){.path = HERMESD_PATH, .argv = argv, .log = d->log,
			       .notify = notify ? d->notify : NULL, .prepare = daemon_env};
}

void ht_daemon_start(ht_daemon *d, const char *const *extra)
{
	const char *argv[32] = {"hermesd", "--bus", d->bus, "--run-dir", d->run_dir};
	int n = 5;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	if (d->notify_fd < 0)
		d->notify_fd = ht_notify_open(d->notify);
	ht_spawn_spec s = spec(d, argv, true);
	d->pid = ht_spawn(&s);
	ht_await_ready(d->notify_fd, &d->pid, 10000, "hermesd", d->log);
}

void ht_daemon_start_config(ht_daemon *d, const char *config)
{
	if (config)
		ht_write_file(d->conf, config);
	const char *extra[] = {"--config", d->conf, NULL};
	ht_daemon_start(d, extra);
}

void ht_daemon_truncate(const ht_daemon *d, off_t size)
{
	char path[96];
	snprintf(path, sizeof path, "/hermes.%s", d->bus);
	int fd = shm_open(path, O_RDWR, 0);
	if (fd < 0)
		fail_msg("open segment %s: %s", path, strerror(errno));
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

int ht_daemon_wait_exit(ht_daemon *d, int timeout_ms)
{
	int st = ht_wait_child(d->pid, timeout_ms);
	d->pid = 0;
	return st;
}

hermes_bus *ht_daemon_attach(const ht_daemon *d)
{
	hermes_bus *bus;
	hermes_err e = hermes_bus_attach(d->bus, &bus);
	if (e != HERMES_OK)
		fail_msg("attach to bus %s: %s (%s); see %s", d->bus, hermes_strerror(e),
			 hermes_last_error_detail(), d->log);
	return bus;
}

int ht_daemon_run(ht_daemon *d, const char *const *args, int timeout_ms)
{
	ht_spawn_spec s = spec(d, args, false);
	return ht_run(&s, timeout_ms);
}

int ht_ctl_run(const ht_daemon *d, const char *const *args, const char *out, bool with_stderr,
	       int timeout_ms)
{
	const char *argv[32] = {"hermes-ctl", "--bus", d->bus};
	int n = 3;
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ht_spawn_spec s = {.path = HERMES_CTL_PATH, .argv = argv, .out = out,
			   .err_to_out = with_stderr, .prepare = daemon_env};
	return ht_run(&s, timeout_ms);
}

int ht_ctl(const ht_daemon *d, const char *const *args, char *buf, size_t cap)
{
	char path[192];
	snprintf(path, sizeof path, "%s/ctl.out", d->run_dir);
	int rc = ht_ctl_run(d, args, path, true, 15000);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	size_t len = fread(buf, 1, cap - 1, f);
	buf[len] = '\0';
	fclose(f);
	return rc;
}

void ht_daemon_stop(ht_daemon *d)
{
	ht_proc_stop(&d->pid, 10000, "hermesd", d->log);
}

void ht_daemon_kill(ht_daemon *d)
{
	ht_proc_kill(&d->pid);
}

void ht_daemon_cleanup(ht_daemon *d)
{
	ht_daemon_kill(d);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	hermes_bus_unlink(d->bus);
	ht_remove_tree(d->run_dir);
}

int ht_daemon_setup(void **state)
{
	ht_daemon_init(*state, "d");
	return 0;
}

int ht_daemon_teardown(void **state)
{
	ht_daemon_cleanup(*state);
	return 0;
}

int ht_daemon_log_count(const ht_daemon *d, const char *needle)
{
	return ht_file_count(d->log, needle);
}

int ht_daemon_log_has(const ht_daemon *d, const char *needle)
{
	return ht_daemon_log_count(d, needle) > 0;
}

int ht_daemon_wait_log(const ht_daemon *d, const char *needle, int count, int timeout_ms)
{
	return ht_file_wait(d->log, needle, count, timeout_ms);
}

int ht_daemon_alive(const ht_daemon *d)
{
	siginfo_t si = {0};
	if (d->pid <= 0)
		return 0;
	/* WNOWAIT: look without reaping, so ht_daemon_stop still can. */
	if (waitid(P_PID, (id_t)d->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return 0;
	return si.si_pid == 0;
}
