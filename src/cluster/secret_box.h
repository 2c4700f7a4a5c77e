/*
 * secret_box.h — secrets sealed at rest: AES-256-GCM (OpenSSL EVP) with a
 * key that lives in a file of its own, apart from the store that holds the
 * sealed values (docs/security.md, "Secrets and tokens").
 *
 * A sealed box is bytes: "QS1" (format), a 12-byte random nonce, the
 * ciphertext and GCM's 16-byte tag. The caller's `context` (the secret's
 * name and version) is authenticated with it but not stored: a box moved
 * to another name or version, a changed byte, or another key all make
 * secret_box_open fail, never return wrong plaintext.
 *
 * The key file holds 64 hex digits (32 random bytes) and a newline, mode
 * 0600. Its id (the first 16 hex digits of the SHA-256 of the key) is kept
 * beside the boxes so that a wrong key file is named as such.
 */
#ifndef QYVOL_CLUSTER_SECRET_BOX_H
#define QYVOL_CLUSTER_SECRET_BOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_KEY_BYTES 32
#define SECRET_KEY_ID_CHARS 16
#define SECRET_BOX_OVERHEAD (3 + 12 + 16)

typedef struct secret_key {
    uint8_t bytes[SECRET_KEY_BYTES];
    char id[SECRET_KEY_ID_CHARS + 1];
} secret_key;

/* Read the key in path; when it does not exist and create is set, make
 * one (0600, in a folder that exists). *created says which. False with
 * why: unreadable, not 64 hex digits, readable by others than its owner. */
bool secret_key_load(const char *path, bool create, secret_key *key, bool *created, char *why, size_t whylen);
/* A key from 32 bytes (tests). */
void secret_key_from_bytes(secret_key *key, const uint8_t bytes[SECRET_KEY_BYTES]);
/* Forget the key's bytes. */
void secret_key_wipe(secret_key *key);

/* Seal len bytes of plain for context into *box (malloc'ed, *box_len
 * bytes). False only when out of memory or OpenSSL fails. */
bool secret_box_seal(const secret_key *key, const char *context, const uint8_t *plain, size_t len, uint8_t **box,
                     size_t *box_len);
/* Open a box sealed for context: *plain (malloc'ed, NUL after its *len
 * bytes; free with secret_plain_free). False with why when the box is
 * malformed or does not authenticate (tampered, other key or context). */
bool secret_box_open(const secret_key *key, const char *context, const uint8_t *box, size_t box_len,
                     uint8_t **plain, size_t *len, char *why, size_t whylen);
/* Wipe and free what secret_box_open gave (NULL is fine). */
void secret_plain_free(uint8_t *plain, size_t len);

/* Base64 (standard alphabet, padded): *out malloc'ed and NUL-terminated. */
char *secret_base64_encode(const uint8_t *data, size_t len);
/* NULL when text is not base64. */
uint8_t *secret_base64_decode(const char *text, size_t *len);

/* SHA-256 of data as 64 lower-case hex digits (tokens are kept so). */
void secret_sha256_hex(const void *data, size_t len, char hex[65]);
/* Constant-time equality of two strings of the same length n. */
bool secret_equal(const char *a, const char *b, size_t n);

#endif
