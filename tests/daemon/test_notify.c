/* Tests for daemon/notify.c: systemd readiness without libsystemd. */
#include "tests/support/process.h"
#include "tests/support/testing.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/notify.h"

/* Not run by systemd: no socket, or a value that is neither a path nor an
 * abstract name, is nothing to notify. */
static void test_without_a_notify_socket_there_is_nothing_to_do(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	ht_assert_ok(hm_notify("READY=1"));
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	ht_assert_ok(hm_notify("READY=1"));
	unsetenv("NOTIFY_SOCKET");
}

static void test_readiness_reaches_the_socket_with_its_status(void **state)
{
	(void)state;
	char dir[64], path[128], got[128] = "";
	ht_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/notify", dir);
	int fd = ht_notify_open(path);
	setenv("NOTIFY_SOCKET", path, 1);
	hm_notify_ready("serving 2 rings");
	/* A datagram to a bound Unix socket is queued by the time sendto
	 * returns. */
	assert_true(recv(fd, got, sizeof got - 1, MSG_DONTWAIT) > 0);
	assert_string_equal(got, "READY=1\nSTATUS=serving 2 rings\n");
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	ht_remove_tree(dir);
}

/* "@NAME" is a name in the abstract namespace (no file). */
static void test_an_abstract_socket_name_is_reached(void **state)
{
	(void)state;
	char name[64], got[64] = "";
	snprintf(name, sizeof name, "@hermes-test-notify-%d", (int)getpid());
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	memcpy(sa.sun_path + 1, name + 1, len - 1); /* sun_path[0] = '\0': abstract */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
	setenv("NOTIFY_SOCKET", name, 1);
	ht_assert_ok(hm_notify("READY=1"));
	assert_true(recv(fd, got, sizeof got - 1, MSG_DONTWAIT) > 0);
	assert_string_equal(got, "READY=1");
	unsetenv("NOTIFY_SOCKET");
	close(fd);
}

/* A send that fails returns its error and says why in the detail (which
 * hm_notify_ready logs as a warning). */
static void test_a_failed_send_says_why(void **state)
{
	(void)state;
	setenv("NOTIFY_SOCKET", "/nonexistent-hermes-test-dir/notify", 1);
	assert_int_equal(hm_notify("READY=1"), HERMES_ENOENT);
	assert_string_equal(hermes_last_error_detail(), "sd_notify failed: No such file or directory");
	char too_long[200];
	memset(too_long, 'n', sizeof too_long - 1);
	too_long[0] = '/';
	too_long[sizeof too_long - 1] = '\0';
	setenv("NOTIFY_SOCKET", too_long, 1);
	assert_int_not_equal(hm_notify("READY=1"), HERMES_OK);
	assert_string_equal(hermes_last_error_detail(), "sd_notify failed: File name too long");
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_without_a_notify_socket_there_is_nothing_to_do),
		cmocka_unit_test(test_readiness_reaches_the_socket_with_its_status),
		cmocka_unit_test(test_an_abstract_socket_name_is_reached),
		cmocka_unit_test(test_a_failed_send_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
