#include "core/proc.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Read /proc/PID/stat; on success return the state letter and the start
 * time. The command name (field 2) may contain spaces and parentheses, so
 * fields are counted from the last ')'. */
static bool read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/self/stat");
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long st;
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
				"%*d %*d %*d %llu",
			 state, &st) != 2)
		return false;
	*start = st;
	return true;
}

uint64_t hm_proc_start_time(pid_t pid)
{
	static _Thread_local pid_t cached_pid;
	static _Thread_local uint64_t cached;
	char state;
	uint64_t start;
	if (pid == 0 && cached_pid == getpid())
		return cached;
	if (!read_stat(pid, &state, &start))
		return 0;
	if (pid == 0) {
		cached = start;
		cached_pid = getpid();
	}
	return start;
}

bool hm_proc_alive(pid_t pid, uint64_t start)
{
	char state;
	uint64_t st;
	if (pid <= 0 || !read_stat(pid, &state, &st))
		return false;
	if (state == 'Z' || state == 'X' || state == 'x')
		return false;
	return start == 0 || st == start;
}

void hm_proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(buf, (int)len, f)) {
		snprintf(buf, len, "?");
	} else {
		buf[strcspn(buf, "\n")] = '\0';
	}
	if (f)
		fclose(f);
}

bool hm_proc_status(pid_t pid, const char *key, char *line, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t klen = strlen(key);
	bool found = false;
	while (!found && fgets(line, (int)len, f))
		found = strncmp(line, key, klen) == 0;
	fclose(f);
	if (found)
		memmove(line, line + klen, strlen(line + klen) + 1);
	return found;
}
