/* libsodium, kept in one module: see auth.h. */
#include "tcp-bridge/client/auth.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/error_detail.h"
#include "core/hex.h"

#ifdef HERMES_HAVE_SODIUM
#include <sodium.h>

/* The wire protocol's sizes are libsodium's; if a libsodium release ever
 * changed one of these, the protocol would not follow silently. */
static_assert(HERMES_AUTH_KEY_SIZE == crypto_auth_hmacsha512256_KEYBYTES, "PSK size");
static_assert(HERMES_AUTH_TAG_SIZE == crypto_auth_hmacsha512256_BYTES, "auth tag size");
static_assert(HERMES_KX_PUBLIC_KEY_SIZE == crypto_kx_PUBLICKEYBYTES, "kx public key size");
static_assert(HERMES_KX_PUBLIC_KEY_SIZE == crypto_kx_SECRETKEYBYTES, "kx secret key size");
static_assert(HERMES_AUTH_KEY_SIZE == crypto_kx_SESSIONKEYBYTES, "session key size");
static_assert(HERMES_AUTH_KEY_SIZE == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "AEAD key size");
static_assert(HERMES_SEAL_TAG_SIZE == crypto_aead_chacha20poly1305_ietf_ABYTES, "AEAD tag size");
static_assert(HERMES_SEAL_NONCE_SIZE == crypto_aead_chacha20poly1305_ietf_NPUBBYTES,
	      "AEAD nonce size");

bool hm_auth_available(void)
{
	return true;
}

hermes_err hm_auth_init(void)
{
	/* sodium_init is thread-safe and returns 1 when already done. */
	if (sodium_init() < 0)
		return hm_fail(HERMES_ESYS, "libsodium failed to initialise");
	return HERMES_OK;
}

hermes_err hm_auth_random(void *buf, size_t n)
{
	hermes_err err = hm_auth_init();
	if (err)
		return err;
	randombytes_buf(buf, n);
	return HERMES_OK;
}

hermes_err hm_auth_keygen(uint8_t key[HERMES_AUTH_KEY_SIZE])
{
	hermes_err err = hm_auth_init();
	if (err)
		return err;
	crypto_auth_hmacsha512256_keygen(key);
	return HERMES_OK;
}

hermes_err hm_auth_tag(const uint8_t key[HERMES_AUTH_KEY_SIZE], const uint8_t *msg, size_t len,
		       uint8_t tag[HERMES_AUTH_TAG_SIZE])
{
	if (crypto_auth_hmacsha512256(tag, msg, len, key) != 0)
		return hm_fail(HERMES_ESYS, "crypto_auth_hmacsha512256 failed");
	return HERMES_OK;
}

bool hm_auth_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

hermes_err hm_auth_kx_keypair(uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE],
			      uint8_t sk[HERMES_KX_PUBLIC_KEY_SIZE])
{
	hermes_err err = hm_auth_init();
	if (!err && crypto_kx_keypair(pk, sk) != 0)
		err = hm_fail(HERMES_ESYS, "crypto_kx_keypair failed");
	return err;
}

hermes_err hm_auth_session_keys(hermes_role role, const uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE],
				const uint8_t sk[HERMES_KX_PUBLIC_KEY_SIZE],
				const uint8_t peer_pk[HERMES_KX_PUBLIC_KEY_SIZE],
				uint8_t rx[HERMES_AUTH_KEY_SIZE], uint8_t tx[HERMES_AUTH_KEY_SIZE])
{
	int r = role == HERMES_ROLE_CLIENT ? crypto_kx_client_session_keys(rx, tx, pk, sk, peer_pk)
					   : crypto_kx_server_session_keys(rx, tx, pk, sk, peer_pk);
	if (r != 0)
		return hm_fail(HERMES_EPERM, "key exchange failed (bad peer public key)");
	return HERMES_OK;
}

static void nonce_of(uint64_t counter, uint8_t nonce[HERMES_SEAL_NONCE_SIZE])
{
	memset(nonce, 0, HERMES_SEAL_NONCE_SIZE);
	hm_put_le64(nonce, counter);
}

hermes_err hm_auth_seal(const uint8_t key[HERMES_AUTH_KEY_SIZE], uint64_t counter,
			const uint8_t *ad, uint8_t *buf, size_t len,
			uint8_t tag[HERMES_SEAL_TAG_SIZE])
{
	uint8_t nonce[HERMES_SEAL_NONCE_SIZE];
	nonce_of(counter, nonce);
	/* libsodium allows the ciphertext to overwrite the message in place. */
	if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, len, ad,
							       HERMES_HEADER_SIZE, NULL, nonce,
							       key) != 0)
		return HERMES_ESYS;
	return HERMES_OK;
}

hermes_err hm_auth_open(const uint8_t key[HERMES_AUTH_KEY_SIZE], uint64_t counter,
			const uint8_t *ad, uint8_t *buf, size_t len,
			const uint8_t tag[HERMES_SEAL_TAG_SIZE])
{
	uint8_t nonce[HERMES_SEAL_NONCE_SIZE];
	nonce_of(counter, nonce);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, len, tag, ad,
							       HERMES_HEADER_SIZE, nonce,
							       key) != 0)
		return HERMES_EPERM;
	return HERMES_OK;
}

void hm_auth_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

hermes_err hm_auth_pk_public(const uint8_t sk[HERMES_AUTH_KEY_SIZE],
			     uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE])
{
	hermes_err err = hm_auth_init();
	if (!err && crypto_scalarmult_base(pk, sk) != 0)
		err = hm_fail(HERMES_EINVAL, "not an X25519 secret key");
	return err;
}

static_assert(HERMES_KX_PUBLIC_KEY_SIZE == crypto_scalarmult_BYTES, "X25519 size");

hermes_err hm_auth_pk_derive(hermes_role role, const uint8_t static_sk[HERMES_AUTH_KEY_SIZE],
			     const uint8_t eph_sk[HERMES_AUTH_KEY_SIZE],
			     const uint8_t peer_static[HERMES_KX_PUBLIC_KEY_SIZE],
			     const uint8_t peer_eph[HERMES_KX_PUBLIC_KEY_SIZE],
			     const uint8_t *transcript, size_t tlen, hm_pk_keys *out)
{
	/* dh1 = ee, dh2 = (client ephemeral, server static),
	 * dh3 = (client static, server ephemeral): PROTOCOL.md 6.1. */
	uint8_t dh[3][crypto_scalarmult_BYTES];
	bool client = role == HERMES_ROLE_CLIENT;
	int r = crypto_scalarmult(dh[0], eph_sk, peer_eph);
	r |= crypto_scalarmult(dh[1], client ? eph_sk : static_sk, client ? peer_static : peer_eph);
	r |= crypto_scalarmult(dh[2], client ? static_sk : eph_sk, client ? peer_eph : peer_static);
	uint8_t prk[crypto_generichash_BYTES_MAX];
	crypto_generichash_state st;
	if (!r) {
		crypto_generichash_init(&st, NULL, 0, sizeof prk);
		crypto_generichash_update(&st, (const uint8_t *)"hermes pk v1", 12);
		crypto_generichash_update(&st, &dh[0][0], sizeof dh);
		crypto_generichash_update(&st, transcript, tlen);
		crypto_generichash_final(&st, prk, sizeof prk);
		static const char *labels[4] = {"tag c", "tag s", "c2s", "s2c"};
		uint8_t *keys[4] = {out->tag_c, out->tag_s, out->c2s, out->s2c};
		for (int i = 0; i < 4; i++)
			crypto_generichash(keys[i], HERMES_AUTH_KEY_SIZE, (const uint8_t *)labels[i],
					   strlen(labels[i]), prk, sizeof prk);
	}
	sodium_memzero(dh, sizeof dh);
	sodium_memzero(prk, sizeof prk);
	sodium_memzero(&st, sizeof st);
	if (r)
		return hm_fail(HERMES_EPERM, "key agreement failed (bad public key)");
	return HERMES_OK;
}

void *hm_auth_secure_alloc(size_t n)
{
	if (hm_auth_init() != HERMES_OK || n == 0)
		return NULL;
	/* Guard pages, mlock and MADV_DONTDUMP; sodium_free wipes. */
	void *p = sodium_malloc(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void hm_auth_secure_free(void *p, size_t n)
{
	(void)n;
	if (p)
		sodium_free(p);
}

#else /* !HERMES_HAVE_SODIUM */

/* What this build cannot do it refuses, whatever it is given. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define NO_SODIUM                                                                              \
	hm_fail(HERMES_ENOTSUP, "this Hermes was built without libsodium: authentication and " \
				"encryption are not available (rebuild with HERMES_WITH_SODIUM=ON)")

bool hm_auth_available(void)
{
	return false;
}

hermes_err hm_auth_init(void)
{
	return NO_SODIUM;
}

hermes_err hm_auth_random(void *buf, size_t n)
{
	return NO_SODIUM;
}

hermes_err hm_auth_keygen(uint8_t key[HERMES_AUTH_KEY_SIZE])
{
	return NO_SODIUM;
}

hermes_err hm_auth_tag(const uint8_t key[HERMES_AUTH_KEY_SIZE], const uint8_t *msg, size_t len,
		       uint8_t tag[HERMES_AUTH_TAG_SIZE])
{
	return NO_SODIUM;
}

bool hm_auth_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d == 0;
}

hermes_err hm_auth_kx_keypair(uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE],
			      uint8_t sk[HERMES_KX_PUBLIC_KEY_SIZE])
{
	return NO_SODIUM;
}

hermes_err hm_auth_session_keys(hermes_role role, const uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE],
				const uint8_t sk[HERMES_KX_PUBLIC_KEY_SIZE],
				const uint8_t peer_pk[HERMES_KX_PUBLIC_KEY_SIZE],
				uint8_t rx[HERMES_AUTH_KEY_SIZE], uint8_t tx[HERMES_AUTH_KEY_SIZE])
{
	return NO_SODIUM;
}

hermes_err hm_auth_seal(const uint8_t key[HERMES_AUTH_KEY_SIZE], uint64_t counter,
			const uint8_t *ad, uint8_t *buf, size_t len,
			uint8_t tag[HERMES_SEAL_TAG_SIZE])
{
	return HERMES_ENOTSUP;
}

hermes_err hm_auth_open(const uint8_t key[HERMES_AUTH_KEY_SIZE], uint64_t counter,
			const uint8_t *ad, uint8_t *buf, size_t len,
			const uint8_t tag[HERMES_SEAL_TAG_SIZE])
{
	return HERMES_ENOTSUP;
}

void hm_auth_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

hermes_err hm_auth_pk_public(const uint8_t sk[HERMES_AUTH_KEY_SIZE],
			     uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE])
{
	return NO_SODIUM;
}

hermes_err hm_auth_pk_derive(hermes_role role, const uint8_t static_sk[HERMES_AUTH_KEY_SIZE],
			     const uint8_t eph_sk[HERMES_AUTH_KEY_SIZE],
			     const uint8_t peer_static[HERMES_KX_PUBLIC_KEY_SIZE],
			     const uint8_t peer_eph[HERMES_KX_PUBLIC_KEY_SIZE],
			     const uint8_t *transcript, size_t tlen, hm_pk_keys *out)
{
	return NO_SODIUM;
}

void *hm_auth_secure_alloc(size_t n)
{
	if (n == 0)
		return NULL;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, n, MADV_DONTDUMP);
	(void)mlock(p, n); /* best effort: RLIMIT_MEMLOCK may be small */
	return p;
}

void hm_auth_secure_free(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	munlock(p, n);
	munmap(p, n);
}

#pragma GCC diagnostic pop

#endif /* HERMES_HAVE_SODIUM */

void hm_auth_protect_process(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

const char *hm_auth_keep_name(char *out, const char *name, size_t len)
{
	/* The decoder refuses longer names; never write past out if one
	 * came another way. */
	if (len > HERMES_WIRE_NAME_MAX)
		len = HERMES_WIRE_NAME_MAX;
	memcpy(out, name, len);
	out[len] = '\0';
	return out;
}

/* ---- key files (no libsodium needed to read them) ---------------------------- */

/* The text of the key file at path, NUL-terminated (at most cap - 1 bytes),
 * read once the file is one that only this user could have written: a
 * regular file (no link followed), mode 0600 or stricter, ours. */
static hermes_err read_key_file(const char *path, char *text, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return hm_fail_errno("cannot open key file", path);
	struct stat st;
	ssize_t n = 0;
	hermes_err err = HERMES_OK;
	if (fstat(fd, &st) != 0)
		err = hm_fail_errno("cannot stat key file", path);
	else if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		err = hm_fail(HERMES_EACCES,
			      "key file %s must be a regular file with mode 0600 or stricter "
			      "(it is %04o): chmod 600 it",
			      path, (unsigned)(st.st_mode & 07777));
	else if (st.st_uid != geteuid())
		err = hm_fail(HERMES_EACCES,
			      "key file %s is owned by uid %u, not by this user (uid %u): a key "
			      "another user owns could be replaced by them; chown it",
			      path, (unsigned)st.st_uid, (unsigned)geteuid());
	else if ((n = read(fd, text, cap - 1)) < 0)
		err = hm_fail_errno("cannot read key file", path);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return err;
}

hermes_err hm_auth_key_load_pin(const char *path, uint8_t key[HERMES_AUTH_KEY_SIZE],
				uint8_t pin[HERMES_KX_PUBLIC_KEY_SIZE], bool *have_pin)
{
	if (have_pin)
		*have_pin = false;
	/* A key file is small; anything bigger is not one. */
	char text[4096];
	hermes_err err = read_key_file(path, text, sizeof text);
	if (err)
		return err;
	err = hm_fail(HERMES_EINVAL,
		      "%s is not a Hermes key file (want one line of 64 hex digits, and "
		      "optionally 'server' and the bridge's public key; make one with "
		      "'hermes-bridge keygen NAME')",
		      path);
	bool have_key = false, bad = false;
	char *line = text, *next;
	for (; line && *line && !bad; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (!strncmp(line, "server", 6) && (line[6] == ' ' || line[6] == '\t')) {
			uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE];
			bad = hm_auth_parse_key(line + 7, pk) != HERMES_OK || !pin;
			if (!bad) {
				memcpy(pin, pk, sizeof pk);
				*have_pin = true;
			}
		} else {
			bad = have_key || hm_auth_parse_key(line, key) != HERMES_OK;
			have_key = !bad;
		}
	}
	if (have_key && !bad) {
		hm_clear_detail();
		err = HERMES_OK;
	}
	hm_auth_wipe(text, sizeof text);
	return err;
}

hermes_err hm_auth_key_load(const char *path, uint8_t key[HERMES_AUTH_KEY_SIZE])
{
	return hm_auth_key_load_pin(path, key, NULL, NULL);
}

hermes_err hm_auth_parse_key(const char *text, uint8_t key[HERMES_AUTH_KEY_SIZE])
{
	text += strspn(text, " \t");
	size_t len = strcspn(text, " \t\r\n");
	if (len != 2 * HERMES_AUTH_KEY_SIZE || text[len + strspn(text + len, " \t\r\n")])
		return HERMES_EINVAL;
	uint8_t out[HERMES_AUTH_KEY_SIZE];
	for (size_t i = 0; i < HERMES_AUTH_KEY_SIZE; i++) {
		int hi = hm_hex_digit(text[2 * i]), lo = hm_hex_digit(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return HERMES_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, out, sizeof out);
	hm_auth_wipe(out, sizeof out);
	return HERMES_OK;
}

void hm_auth_hex(const uint8_t *p, size_t n, char *out)
{
	hm_hex_encode(p, n, out);
}

hermes_err hm_auth_key_path(const char *name, const char *out, char *path, size_t len)
{
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E || *p == '/')
			return hm_fail(HERMES_EINVAL,
				       "identity names are printable ASCII without spaces or '/'");
	int n = out ? snprintf(path, len, "%s", out) : snprintf(path, len, "%s.key", name);
	if (n < 0 || (size_t)n >= len)
		return hm_fail(HERMES_EINVAL, "key file name too long: %s", out ? out : name);
	return HERMES_OK;
}

hermes_err hm_auth_keygen_file(const char *path, const char *name, bool pair,
			       const uint8_t *pin, uint8_t pub[HERMES_KX_PUBLIC_KEY_SIZE])
{
	uint8_t key[HERMES_AUTH_KEY_SIZE];
	hermes_err err = hm_auth_keygen(key);
	if (!err && pair)
		err = hm_auth_pk_public(key, pub);
	if (!err) {
		char comment[320];
		snprintf(comment, sizeof comment, "Hermes %s %s",
			 pair ? "X25519 secret key of" : "pre-shared key of identity", name);
		err = hm_auth_key_save_pin(path, comment, key, pair ? pin : NULL);
	}
	hm_auth_wipe(key, sizeof key);
	return err;
}

hermes_err hm_auth_key_save(const char *path, const char *comment,
			    const uint8_t key[HERMES_AUTH_KEY_SIZE])
{
	return hm_auth_key_save_pin(path, comment, key, NULL);
}

hermes_err hm_auth_key_save_pin(const char *path, const char *comment,
				const uint8_t key[HERMES_AUTH_KEY_SIZE],
				const uint8_t pin[HERMES_KX_PUBLIC_KEY_SIZE])
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return hm_fail_errno("cannot create key file", path);
	/* The umask can only narrow 0600; make it exact anyway. */
	if (fchmod(fd, 0600) != 0) {
		hermes_err err = hm_fail_errno("cannot chmod key file", path);
		close(fd);
		unlink(path);
		return err;
	}
	char text[512];
	int len = snprintf(text, sizeof text, "# %s\n", comment ? comment : "Hermes pre-shared key");
	if (len < 0 || (size_t)len > sizeof text - 4 * HERMES_AUTH_KEY_SIZE - 16)
		len = 0;
	hm_hex_encode(key, HERMES_AUTH_KEY_SIZE, text + len);
	len += 2 * HERMES_AUTH_KEY_SIZE;
	text[len++] = '\n';
	if (pin) {
		memcpy(text + len, "server ", 7);
		len += 7;
		hm_hex_encode(pin, HERMES_KX_PUBLIC_KEY_SIZE, text + len);
		len += 2 * HERMES_KX_PUBLIC_KEY_SIZE;
		text[len++] = '\n';
	}
	ssize_t w = write(fd, text, (size_t)len);
	hm_auth_wipe(text, sizeof text);
	if (w != len || fsync(fd) != 0) {
		hermes_err err = hm_fail_errno("cannot write key file", path);
		close(fd);
		unlink(path);
		return err;
	}
	if (close(fd) != 0)
		return hm_fail_errno("cannot close key file", path);
	return HERMES_OK;
}
