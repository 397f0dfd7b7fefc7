/* Processes of hermes-bench: signals, the shared control page, worker
 * groups, helper servers, the machine description. */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t g_stop;
bench_ctl *g_ctl;
hm_hist *g_shared_hist;

static pid_t g_main_pid;
static int g_ready_fd = -1;
static char g_tmpdir[64];

/* Helper servers still running, stopped at exit whatever the way out. */
#define MAX_SERVERS 4
static pid_t g_servers[MAX_SERVERS];

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S)};
	/* An interrupted sleep just ends early: callers loop on the clock. */
	nanosleep(&ts, NULL);
}

static void say(const char *kind, const char *fmt, va_list ap)
{
	char buf[768];
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "hermes-bench[%d]: %s%s\n", (int)getpid(), kind, buf);
}

void say_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

void say_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("warning: ", fmt, ap);
	va_end(ap);
}

static void on_stop_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void remove_tmpdir(void)
{
	if (!g_tmpdir[0])
		return;
	DIR *d = opendir(g_tmpdir);
	if (d) {
		struct dirent *e;
		char path[sizeof g_tmpdir + 260];
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof path, "%s/%s", g_tmpdir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(g_tmpdir);
	g_tmpdir[0] = '\0';
}

static void cleanup_at_exit(void)
{
	if (getpid() != g_main_pid)
		return;
	for (unsigned i = 0; i < MAX_SERVERS; i++)
		if (g_servers[i] > 0)
			server_stop(g_servers[i], SERVER_EXIT_STOP_MS);
	remove_tmpdir();
}

int bench_proc_init(void)
{
	g_main_pid = getpid();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking call must come back with EINTR so the loop
	 * around it sees the flag. */
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A peer that closed its socket must show up as EPIPE, not kill us. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	size_t bytes = sizeof(bench_ctl) + sizeof(hm_hist);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say_error("mmap: %s", strerror(errno));
		return -1;
	}
	g_ctl = p;
	g_shared_hist = (hm_hist *)((uint8_t *)p + sizeof(bench_ctl));
	atexit(cleanup_at_exit);
	return 0;
}

const char *bench_tmpdir(void)
{
	if (!g_tmpdir[0]) {
		snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/hermes-bench-XXXXXX");
		if (!mkdtemp(g_tmpdir)) {
			say_error("mkdtemp: %s", strerror(errno));
			g_tmpdir[0] = '\0';
			return "/tmp";
		}
	}
	return g_tmpdir;
}

/* ---- workers ---- */

uint8_t *payload_new(uint32_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return NULL;
	for (uint32_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 31u + 7u);
	return buf;
}

void job_state_free(void **state)
{
	free(*state);
	*state = NULL;
}

int job_name_new(void **state, const char *prefix)
{
	static unsigned serial;
	char *name = malloc(JOB_NAME_MAX);
	if (!name)
		return -1;
	snprintf(name, JOB_NAME_MAX, "%s%u", prefix, ++serial);
	*state = name;
	return 0;
}

int worker_ready(void)
{
	char c = 'R';
	ssize_t n;
	do
		n = write(g_ready_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(g_ready_fd);
	g_ready_fd = -1;
	return n == 1 ? 0 : -1;
}

static int pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		say_error("sched_setaffinity(cpu %d): %s", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

static void worker_main(const bench_opts *o, worker *w, pid_t parent, int ready_fd)
{
	g_ready_fd = ready_fd;
	/* If the coordinator dies (even by SIGKILL) we get SIGTERM, whose
	 * handler stops our loops; the check after it covers a coordinator
	 * that died before the prctl. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(3);
	if (o->ncpus && pin_to(o->cpus[w->slot % o->ncpus]) != 0)
		_exit(1);
	if (o->rt_prio > 0) {
		struct sched_param sp = {.sched_priority = o->rt_prio};
		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			say_warning("SCHED_FIFO priority %d refused (%s); running as SCHED_OTHER",
				    o->rt_prio, strerror(errno));
	}
	int rc = w->fn(w->arg, w->index);
	/* exit, not _exit: peer libraries unregister in their destructors
	 * (an iceoryx runtime that never says goodbye makes RouDi wait for it,
	 * and signal its pid, at shutdown). The coordinator's own atexit
	 * handlers check the pid and do nothing here. */
	exit(g_stop ? 3 : (rc ? 1 : 0));
}

static bool status_failed(int status)
{
	return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

static void say_failure(const worker *w)
{
	if (g_stop)
		return;
	if (WIFSIGNALED(w->status))
		say_error("the %s process was killed by signal %d", w->role, WTERMSIG(w->status));
	else if (WEXITSTATUS(w->status) != 0)
		say_error("the %s process failed (exit status %d)", w->role,
			  WEXITSTATUS(w->status));
}

/* Stop every running worker: SIGTERM, a grace period, SIGKILL; reap all. */
static void group_kill(worker *w, unsigned n, uint64_t grace_ns)
{
	ctl_put(&g_ctl->abort, 1);
	for (unsigned i = 0; i < n; i++)
		if (w[i].running) {
			kill(w[i].pid, SIGTERM);
			kill(w[i].pid, SIGCONT); /* a stopped worker could not act on it */
		}
	uint64_t deadline = now_ns() + grace_ns;
	for (;;) {
		bool any = false;
		for (unsigned i = 0; i < n; i++) {
			if (!w[i].running)
				continue;
			pid_t r = waitpid(w[i].pid, &w[i].status, WNOHANG);
			if (r == w[i].pid || (r < 0 && errno != EINTR))
				w[i].running = false;
			else
				any = true;
		}
		if (!any)
			return;
		if (now_ns() >= deadline) {
			for (unsigned i = 0; i < n; i++) {
				if (!w[i].running)
					continue;
				say_error("the %s process did not exit; killing it", w[i].role);
				kill(w[i].pid, SIGKILL);
				while (waitpid(w[i].pid, &w[i].status, 0) < 0 && errno == EINTR)
					;
				w[i].running = false;
			}
			return;
		}
		sleep_ns(POLL_NS);
	}
}

/* Wait for one worker's ready byte, watching that it is still alive. */
static int await_ready(worker *w, int fd)
{
	uint64_t deadline = now_ns() + 2 * PEER_TIMEOUT_NS;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, 20);
		if (g_stop)
			return -1;
		if (n > 0) {
			char c;
			ssize_t got = read(fd, &c, 1);
			if (got == 1)
				return 0;
			if (got < 0 && errno == EINTR)
				continue;
			/* EOF: it exited (or failed) before saying ready. */
			if (waitpid(w->pid, &w->status, 0) == w->pid) {
				w->running = false;
				if (status_failed(w->status))
					say_failure(w);
				else
					say_error("the %s process ended during set-up", w->role);
			}
			return -1;
		}
		if (n < 0 && errno != EINTR) {
			say_error("poll: %s", strerror(errno));
			return -1;
		}
		if (now_ns() >= deadline) {
			say_error("the %s process did not get ready within %llu s", w->role,
				  (unsigned long long)(2 * PEER_TIMEOUT_NS / NS_PER_S));
			return -1;
		}
	}
}

int group_start(const bench_opts *o, worker *w, unsigned n)
{
	pid_t self = getpid();
	for (unsigned i = 0; i < n; i++) {
		w[i].running = false;
		w[i].slot = i;
	}
	for (unsigned i = 0; i < n; i++) {
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) != 0) {
			say_error("pipe2: %s", strerror(errno));
			group_kill(w, i, NS_PER_S);
			return -1;
		}
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid < 0) {
			say_error("fork: %s", strerror(errno));
			close(fds[0]);
			close(fds[1]);
			group_kill(w, i, NS_PER_S);
			return -1;
		}
		if (pid == 0) {
			close(fds[0]);
			worker_main(o, &w[i], self, fds[1]);
		}
		close(fds[1]);
		w[i].pid = pid;
		w[i].running = true;
		int rc = await_ready(&w[i], fds[0]);
		close(fds[0]);
		if (rc != 0) {
			group_kill(w, i + 1, NS_PER_S);
			return -1;
		}
	}
	return 0;
}

int group_poll(worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (!w[i].running)
			continue;
		pid_t r = waitpid(w[i].pid, &w[i].status, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR))
			continue;
		w[i].running = false;
		if (r < 0 || status_failed(w[i].status)) {
			if (r > 0)
				say_failure(&w[i]);
			ctl_put(&g_ctl->abort, 1);
			return -1;
		}
	}
	return 0;
}

int group_finish(worker *w, unsigned from, unsigned to, uint64_t timeout_ns)
{
	uint64_t deadline = now_ns() + timeout_ns;
	for (;;) {
		if (group_poll(w + from, to - from) != 0 || g_stop) {
			group_kill(w + from, to - from, NS_PER_S);
			return -1;
		}
		bool any = false;
		for (unsigned i = from; i < to; i++)
			any |= w[i].running;
		if (!any)
			return 0;
		if (now_ns() >= deadline) {
			for (unsigned i = from; i < to; i++)
				if (w[i].running)
					say_error("the %s process did not finish in time", w[i].role);
			group_kill(w + from, to - from, NS_PER_S);
			return -1;
		}
		sleep_ns(POLL_NS);
	}
}

int group_sleep(worker *w, unsigned n, uint64_t ns)
{
	uint64_t end = now_ns() + ns;
	for (;;) {
		if (g_stop || group_poll(w, n) != 0)
			return -1;
		uint64_t now = now_ns();
		if (now >= end)
			return 0;
		uint64_t left = end - now;
		/* Short slices: a worker that fails is noticed at once. */
		sleep_ns(left < 5 * NS_PER_MS ? left : 5 * NS_PER_MS);
	}
}

/* ---- helper servers ---- */

pid_t server_spawn(const char *path, char *const argv[], const char *log_path)
{
	int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log < 0) {
		say_error("%s: %s", log_path, strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		say_error("fork: %s", strerror(errno));
		close(log);
		return -1;
	}
	if (pid == 0) {
		/* The server must not outlive us, whatever happens to us. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(log, 1);
		dup2(log, 2);
		/* Its own process group: a terminal's Ctrl-C reaches us, and we
		 * stop it in order, after the workers that use it. */
		setpgid(0, 0);
		execv(path, argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(log);
	for (unsigned i = 0; i < MAX_SERVERS; i++)
		if (g_servers[i] <= 0) {
			g_servers[i] = pid;
			break;
		}
	return pid;
}

static void server_forget(pid_t pid)
{
	for (unsigned i = 0; i < MAX_SERVERS; i++)
		if (g_servers[i] == pid)
			g_servers[i] = 0;
}

void server_stop(pid_t pid, unsigned timeout_ms)
{
	if (pid <= 0)
		return;
	server_forget(pid);
	kill(pid, SIGTERM);
	int status;
	for (unsigned waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return;
		}
		sleep_ns(POLL_NS);
	}
}

int server_await(pid_t pid, bool (*ready)(const void *arg), const void *arg)
{
	uint64_t deadline = now_ns() + SERVER_START_NS;
	while (!ready(arg)) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			server_forget(pid); /* reaped: its pid is no longer ours */
			return -1;
		}
		if (now_ns() >= deadline || g_stop) {
			server_stop(pid, SERVER_ABORT_STOP_MS);
			return -1;
		}
		sleep_ns(SERVER_POLL_NS);
	}
	return 0;
}

bool tcp_port_accepts(const void *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)*(const unsigned *)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int find_executable(const char *name, char *out, size_t len)
{
	const char *env = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin:/bin:/sbin",
		 env ? env : "");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (!*d)
			continue;
		snprintf(out, len, "%s/%s", d, name);
		if (executable(out))
			return 0;
	}
	/* Some packages keep daemons out of PATH. */
	const char *libdirs[] = {"/usr/lib/%s/%s", "/usr/libexec/%s/%s",
				 "/usr/lib/x86_64-linux-gnu/%s/%s",
				 "/usr/lib/aarch64-linux-gnu/%s/%s"};
	for (size_t i = 0; i < sizeof libdirs / sizeof libdirs[0]; i++) {
		snprintf(out, len, libdirs[i], name, name);
		if (executable(out))
			return 0;
	}
	out[0] = '\0';
	return -1;
}

const char *exe_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0)
		return ".";
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	return buf;
}

int find_beside(const char *rel, const char *name, char *out, size_t len)
{
	char dir[PATH_MAX];
	int w = snprintf(out, len, "%s/%s", exe_dir(dir, sizeof dir), rel);
	if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
		return 0;
	return name ? find_executable(name, out, len) : -1;
}

unsigned free_tcp_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	unsigned port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* ---- machine ---- */

/* Jiffies all CPUs spent busy and in total, from /proc/stat. */
static int cpu_times(unsigned long long *busy, unsigned long long *total)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		       &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return -1;
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	*busy = *total - v[3] - v[4]; /* less idle and iowait */
	return 0;
}

double machine_load(void)
{
	double load[1];
	return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

void machine_probe(machine_info *m)
{
	snprintf(m->cpu, sizeof m->cpu, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f)) {
			/* x86 says "model name"; some arm64 kernels say "Processor". */
			if (strncmp(line, "model name", 10) && strncmp(line, "Processor", 9))
				continue;
			char *v = strchr(line, ':');
			if (!v)
				continue;
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(m->cpu, sizeof m->cpu, "%s", v);
			break;
		}
		fclose(f);
	}
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	m->load1 = machine_load();
	m->load1_after = -1.0;
	m->busy_pct = -1.0;
	unsigned long long busy0, total0, busy1, total1;
	if (cpu_times(&busy0, &total0) == 0) {
		sleep_ns(200 * NS_PER_MS);
		if (cpu_times(&busy1, &total1) == 0 && total1 > total0)
			m->busy_pct = 100.0 * (double)(busy1 - busy0) / (double)(total1 - total0);
	}
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
	else
		snprintf(m->kernel, sizeof m->kernel, "unknown kernel");
}

void pinning_text(const bench_opts *o, char *buf, size_t len)
{
	if (!o->ncpus) {
		snprintf(buf, len, "none (the scheduler places every process)");
		return;
	}
	size_t at = (size_t)snprintf(buf, len, "worker k on CPU [");
	for (unsigned i = 0; i < o->ncpus && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "," : "", o->cpus[i]);
	if (at < len)
		snprintf(buf + at, len - at, "][k mod %u] (k in start order: echo, ping; consumers, "
					     "producers)",
			 o->ncpus);
}
