/* Unit tests for tcp-bridge/client/auth.c's key files as the two keygen
 * commands (hermes-bridge keygen, hermes-ctl keygen) make them: the
 * identity-name rule and default path (hm_auth_key_path), and the file
 * hm_auth_keygen_file writes (private, never over an existing file, read
 * back by hm_auth_key_load_pin with its pin). */
#include "tests/support/testing.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tcp-bridge/client/auth.h"

static void test_key_path_rule(void **state)
{
	(void)state;
	char path[64];
	assert_int_equal(hm_auth_key_path("alice", NULL, path, sizeof path), HERMES_OK);
	assert_string_equal(path, "alice.key");
	assert_int_equal(hm_auth_key_path("alice", "keys/a.key", path, sizeof path), HERMES_OK);
	assert_string_equal(path, "keys/a.key");
	/* Printable ASCII, no space, no '/': the name goes into the file
	 * name and into the bridge's auth file. */
	static const char *bad[] = {"al ice", "a/b", "tab\there", "del\x7f", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (hm_auth_key_path(bad[i], NULL, path, sizeof path) != HERMES_EINVAL)
			fail_msg("identity name %zu was accepted", i);
		assert_non_null(strstr(hermes_last_error_detail(), "printable ASCII"));
	}
	/* Too long for the buffer: an error, never a shortened name. */
	char longname[100];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(hm_auth_key_path(longname, NULL, path, sizeof path), HERMES_EINVAL);
	assert_int_equal(hm_auth_key_path("bob", longname, path, sizeof path), HERMES_EINVAL);
	/* Exactly fitting. */
	assert_int_equal(hm_auth_key_path("b", NULL, path, 6), HERMES_OK);
	assert_string_equal(path, "b.key");
	assert_int_equal(hm_auth_key_path("bb", NULL, path, 6), HERMES_EINVAL);
}

static void test_keygen_file_is_private_and_never_overwritten(void **state)
{
	(void)state;
	if (!hm_auth_available())
		skip();
	char dir[PATH_MAX], psk[PATH_MAX + 16], pair[PATH_MAX + 16];
	ht_temp_dir(dir, sizeof dir);
	snprintf(psk, sizeof psk, "%s/psk.key", dir);
	snprintf(pair, sizeof pair, "%s/pair.key", dir);
	uint8_t pub[HERMES_KX_PUBLIC_KEY_SIZE], pin[HERMES_KX_PUBLIC_KEY_SIZE];
	uint8_t key[HERMES_AUTH_KEY_SIZE], again[HERMES_AUTH_KEY_SIZE], zero[HERMES_AUTH_KEY_SIZE] = {0};
	bool have_pin = true;

	assert_int_equal(hm_auth_keygen_file(psk, "alice", false, NULL, pub), HERMES_OK);
	struct stat st;
	assert_int_equal(stat(psk, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(hm_auth_key_load_pin(psk, key, pin, &have_pin), HERMES_OK);
	assert_false(have_pin);
	assert_memory_not_equal(key, zero, sizeof key);
	/* O_EXCL: a second keygen to the same path fails and changes nothing. */
	assert_int_equal(hm_auth_keygen_file(psk, "alice", false, NULL, pub), HERMES_EEXIST);
	assert_int_equal(hm_auth_key_load(psk, again), HERMES_OK);
	assert_memory_equal(again, key, sizeof key);

	/* A key pair pinning a bridge's public key: the file holds the secret
	 * half and the pin; pub is the public half of what was written. */
	uint8_t bridge_pub[HERMES_KX_PUBLIC_KEY_SIZE];
	memset(bridge_pub, 0x5a, sizeof bridge_pub);
	assert_int_equal(hm_auth_keygen_file(pair, "bob", true, bridge_pub, pub), HERMES_OK);
	assert_int_equal(hm_auth_key_load_pin(pair, key, pin, &have_pin), HERMES_OK);
	assert_true(have_pin);
	assert_memory_equal(pin, bridge_pub, sizeof pin);
	uint8_t derived[HERMES_KX_PUBLIC_KEY_SIZE];
	assert_int_equal(hm_auth_pk_public(key, derived), HERMES_OK);
	assert_memory_equal(derived, pub, sizeof pub);
	ht_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_path_rule),
		cmocka_unit_test(test_keygen_file_is_private_and_never_overwritten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
