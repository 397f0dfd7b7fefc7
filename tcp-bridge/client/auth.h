/* Authentication and session encryption for the TCP bridge and its clients.
 *
 * This is the only module that includes libsodium (docs/PROTOCOL.md,
 * sections 6 and 7): pre-shared keys and their files, fresh nonces, HMAC tags
 * over the handshake transcript, constant-time comparison, the crypto_kx key
 * exchange and ChaCha20-Poly1305 sealing of frames. Built without libsodium,
 * every function that needs it returns HERMES_ENOTSUP with a detail message
 * saying so, and hm_auth_available() is false; key files can still be parsed.
 *
 * Sizes are the wire protocol's (HERMES_AUTH_KEY_SIZE, ...); auth.c
 * static_asserts that they equal libsodium's constants.
 *
 * Thread-safety: every function is safe to call from any thread once
 * hm_auth_init() has returned (it is idempotent and itself thread-safe). */
#ifndef HM_BRIDGE_AUTH_H
#define HM_BRIDGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>
#include <hermes/protocol.h>

/* Is this build able to authenticate and encrypt? */
bool hm_auth_available(void);

/* Initialise libsodium. HERMES_ENOTSUP without it, HERMES_ESYS if
 * sodium_init fails. Cheap after the first call. */
hermes_err hm_auth_init(void);

/* n fresh random bytes (randombytes_buf). */
hermes_err hm_auth_random(void *buf, size_t n);

/* A new random pre-shared key. */
hermes_err hm_auth_keygen(uint8_t key[HERMES_AUTH_KEY_SIZE]);

/* tag = HMAC-SHA-512-256(msg, key) (crypto_auth_hmacsha512256). */
hermes_err hm_auth_tag(const uint8_t key[HERMES_AUTH_KEY_SIZE], const uint8_t *msg, size_t len,
		       uint8_t tag[HERMES_AUTH_TAG_SIZE]);

/* Constant-time equality of two n-byte strings (sodium_memcmp); without
 * libsodium a constant-time loop of our own. */
bool hm_auth_equal(const void *a, const void *b, size_t n);

/* A fresh X25519 key pair for one connection (crypto_kx_keypair). */
hermes_err hm_auth_kx_keypair(uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE],
			      uint8_t sk[HERMES_KX_PUBLIC_KEY_SIZE]);

/* Session keys from our key pair and the peer's public key. role says which
 * side we are (HERMES_ROLE_CLIENT or HERMES_ROLE_SERVER). rx opens what the
 * peer sends, tx seals what we send. HERMES_EPERM when the exchange fails
 * (e.g. a low-order public key): treat as an authentication failure. */
hermes_err hm_auth_session_keys(hermes_role role, const uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE],
				const uint8_t sk[HERMES_KX_PUBLIC_KEY_SIZE],
				const uint8_t peer_pk[HERMES_KX_PUBLIC_KEY_SIZE],
				uint8_t rx[HERMES_AUTH_KEY_SIZE], uint8_t tx[HERMES_AUTH_KEY_SIZE]);

/* Seal len bytes at buf in place with ChaCha20-Poly1305 (IETF), nonce =
 * counter as u64 little-endian then four zero bytes, associated data = the
 * frame header (ad, HERMES_HEADER_SIZE bytes, with ENCRYPTED and the sealed
 * length already set); the 16-byte tag is written at tag (normally buf + len). */
hermes_err hm_auth_seal(const uint8_t key[HERMES_AUTH_KEY_SIZE], uint64_t counter,
			const uint8_t *ad, uint8_t *buf, size_t len,
			uint8_t tag[HERMES_SEAL_TAG_SIZE]);

/* Open what hm_auth_seal sealed, in place. HERMES_EPERM when the tag does
 * not verify (buf is then unspecified): the stream cannot be trusted. */
hermes_err hm_auth_open(const uint8_t key[HERMES_AUTH_KEY_SIZE], uint64_t counter,
			const uint8_t *ad, uint8_t *buf, size_t len,
			const uint8_t tag[HERMES_SEAL_TAG_SIZE]);

/* keygen's identity name and key file: name must be printable ASCII
 * without spaces or '/' (HERMES_EINVAL with a detail otherwise); the file is
 * out, or "NAME.key" without it. */
hermes_err hm_auth_key_path(const char *name, const char *out, char *path, size_t len);

/* keygen of hermes-bridge and hermes-ctl: a new key file at path for name
 * (O_EXCL, mode 0600): with pair, the secret half of an X25519 key pair,
 * its public half in pub, and pin (may be NULL) as the bridge's public key
 * the file pins; else a pre-shared key. */
hermes_err hm_auth_keygen_file(const char *path, const char *name, bool pair,
			       const uint8_t *pin, uint8_t pub[HERMES_KX_PUBLIC_KEY_SIZE]);

/* Public-key mode (PROTOCOL.md 6.1): static X25519 key pairs for each
 * identity and the bridge, fresh ephemeral ones per connection. */
typedef struct hm_pk_keys {
	uint8_t tag_c[HERMES_AUTH_KEY_SIZE]; /* HMAC key of the client's proof */
	uint8_t tag_s[HERMES_AUTH_KEY_SIZE]; /* HMAC key of the server's proof */
	uint8_t c2s[HERMES_AUTH_KEY_SIZE];   /* seals what the client sends */
	uint8_t s2c[HERMES_AUTH_KEY_SIZE];   /* seals what the server sends */
} hm_pk_keys;

/* The public key of an X25519 secret key (crypto_scalarmult_base). Any 32
 * random bytes are a secret key (hm_auth_random). */
hermes_err hm_auth_pk_public(const uint8_t sk[HERMES_AUTH_KEY_SIZE],
			     uint8_t pk[HERMES_KX_PUBLIC_KEY_SIZE]);
/* Both sides' keys from three X25519 agreements and the transcript (the
 * client-labelled one of hermes_auth_transcript): ee, the client's
 * ephemeral with the server's static, the client's static with the
 * server's ephemeral; BLAKE2b-512 over "hermes pk v1" ‖ dh1 ‖ dh2 ‖ dh3 ‖
 * transcript, then BLAKE2b-256 keyed with it over each key's label.
 * role: which side we are. HERMES_EPERM when an agreement yields zero (a
 * low-order public key). */
hermes_err hm_auth_pk_derive(hermes_role role, const uint8_t static_sk[HERMES_AUTH_KEY_SIZE],
			     const uint8_t eph_sk[HERMES_AUTH_KEY_SIZE],
			     const uint8_t peer_static[HERMES_KX_PUBLIC_KEY_SIZE],
			     const uint8_t peer_eph[HERMES_KX_PUBLIC_KEY_SIZE],
			     const uint8_t *transcript, size_t tlen, hm_pk_keys *out);

/* 64 hex digits (spaces around allowed) into a key; HERMES_EINVAL. */
hermes_err hm_auth_parse_key(const char *text, uint8_t key[HERMES_AUTH_KEY_SIZE]);
/* n bytes as 2n lower-case hex digits and a NUL. */
void hm_auth_hex(const uint8_t *p, size_t n, char *out);

/* Overwrite secrets so they do not linger in freed memory. */
void hm_auth_wipe(void *p, size_t n);

/* Memory for long-lived keys: zeroed, locked in RAM (mlock, best effort)
 * and left out of core dumps (MADV_DONTDUMP); hm_auth_secure_free wipes it
 * before release. n is the size given to the allocation. NULL on failure;
 * freeing NULL does nothing. Never realloc keys: grow by alloc, copy, free. */
void *hm_auth_secure_alloc(size_t n);
void hm_auth_secure_free(void *p, size_t n);

/* A peer's greeting name (len bytes inside a frame: HELLO's identity,
 * WELCOME's name, at most HERMES_WIRE_NAME_MAX bytes as the decoder checks)
 * as a C string in out, which holds HERMES_WIRE_NAME_MAX + 1 bytes; returns
 * out. A greeting kept for hermes_auth_transcript after its
 * frame is reused points its name there. */
const char *hm_auth_keep_name(char *out, const char *name, size_t len);

/* Keep this process out of core dumps and ptrace by other processes of
 * the same user (PR_SET_DUMPABLE 0): session keys live in ordinary memory. */
void hm_auth_protect_process(void);

/* Key files: one line of 64 hexadecimal digits (the 32-byte key), after any
 * number of lines starting with '#'. Written with mode 0600 and O_EXCL.
 * Load errors: HERMES_ENOENT (no file), HERMES_EACCES (cannot read, or the
 * file is readable or writable by group or others, or owned by another
 * user: a key must be private and nobody else's to swap),
 * HERMES_EINVAL (not a key file). The detail message names the file, never
 * the key. Save errors: HERMES_EEXIST, HERMES_EACCES, HERMES_ESYS. */
hermes_err hm_auth_key_load(const char *path, uint8_t key[HERMES_AUTH_KEY_SIZE]);
/* The same, where the file may also hold a line 'server HEX': the bridge's
 * public key a client pins (public-key mode); *have_pin says if it did. */
hermes_err hm_auth_key_load_pin(const char *path, uint8_t key[HERMES_AUTH_KEY_SIZE],
				uint8_t pin[HERMES_KX_PUBLIC_KEY_SIZE], bool *have_pin);
hermes_err hm_auth_key_save(const char *path, const char *comment,
			    const uint8_t key[HERMES_AUTH_KEY_SIZE]);
hermes_err hm_auth_key_save_pin(const char *path, const char *comment,
				const uint8_t key[HERMES_AUTH_KEY_SIZE],
				const uint8_t pin[HERMES_KX_PUBLIC_KEY_SIZE]);

#endif
