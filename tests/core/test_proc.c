/* Tests for core/proc.c: start times tell a process from a later one that
 * reused its pid, a zombie counts as dead, and the status and comm readers
 * return what /proc says, or say that it is not there. */
#include "tests/support/testing.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/proc.h"

static int exit_at_once(void *arg)
{
	(void)arg;
	return 0;
}

/* A pid that no process has: a child's, after it was reaped. */
static pid_t reaped_pid(void)
{
	pid_t pid = ht_fork(exit_at_once, NULL);
	assert_int_equal(ht_child_exit(pid, 10000), 0);
	return pid;
}

static void test_start_time_of_self_and_of_nobody(void **state)
{
	(void)state;
	uint64_t me = hm_proc_start_time(getpid());
	assert_true(me > 0);
	assert_int_equal(hm_proc_start_time(0), me);
	assert_int_equal(hm_proc_start_time(reaped_pid()), 0);
}

static void test_alive_checks_the_start_time(void **state)
{
	(void)state;
	uint64_t me = hm_proc_start_time(0);
	assert_true(hm_proc_alive(getpid(), 0));
	assert_true(hm_proc_alive(getpid(), me));
	/* The same pid with another start time: a process that reused it. */
	assert_false(hm_proc_alive(getpid(), me + 1));
	assert_false(hm_proc_alive(reaped_pid(), 0));
}

static void test_a_zombie_is_dead(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	/* Wait for its exit without reaping it (WNOWAIT): it is a zombie
	 * now, which must count as dead, although its pid is still taken. */
	siginfo_t si = {0};
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	do {
		if (ht_now_ns() > deadline) {
			kill(pid, SIGKILL);
			fail_msg("child %d did not exit within 10 s", (int)pid);
		}
		sched_yield();
		assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
	} while (si.si_pid != pid);
	assert_true(hm_proc_start_time(pid) > 0);
	assert_false(hm_proc_alive(pid, 0));
	assert_int_equal(ht_child_exit(pid, 10000), 0);
}

static void test_comm_names_the_process(void **state)
{
	(void)state;
	assert_int_equal(prctl(PR_SET_NAME, "hm-proc-test"), 0);
	char name[32];
	hm_proc_comm(getpid(), name, sizeof name);
	assert_string_equal(name, "hm-proc-test");
	hm_proc_comm(reaped_pid(), name, sizeof name);
	assert_string_equal(name, "?");
}

static void test_status_reads_one_line(void **state)
{
	(void)state;
	assert_int_equal(prctl(PR_SET_NAME, "hm-proc-test"), 0);
	char line[256];
	assert_true(hm_proc_status(getpid(), "Name:", line, sizeof line));
	assert_non_null(strstr(line, "hm-proc-test"));
	assert_true(hm_proc_status(getpid(), "Pid:", line, sizeof line));
	assert_int_equal(atoi(line), (int)getpid());
	assert_false(hm_proc_status(getpid(), "NoSuchKey:", line, sizeof line));
	assert_false(hm_proc_status(reaped_pid(), "Name:", line, sizeof line));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_time_of_self_and_of_nobody),
		cmocka_unit_test(test_alive_checks_the_start_time),
		cmocka_unit_test(test_a_zombie_is_dead),
		cmocka_unit_test(test_comm_names_the_process),
		cmocka_unit_test(test_status_reads_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
