/*
 * secret_box.c — AES-256-GCM boxes and their key file (secret_box.h).
 */
#include "cluster/secret_box.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "QS1"
#define NONCE_BYTES 12
#define TAG_BYTES 16

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[in[i] >> 4];
        out[2 * i + 1] = hexdigits[in[i] & 15];
    }
    out[2 * n] = 0;
}

void secret_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) memset(md, 0, 32);
    to_hex(md, 32, hex);
}

bool secret_equal(const char *a, const char *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void secret_key_from_bytes(secret_key *key, const uint8_t bytes[SECRET_KEY_BYTES])
{
    memcpy(key->bytes, bytes, SECRET_KEY_BYTES);
    char hex[65];
    secret_sha256_hex(bytes, SECRET_KEY_BYTES, hex);
    memcpy(key->id, hex, SECRET_KEY_ID_CHARS);
    key->id[SECRET_KEY_ID_CHARS] = 0;
}

void secret_key_wipe(secret_key *key)
{
    OPENSSL_cleanse(key, sizeof *key);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool make_key_file(const char *path, secret_key *key, char *why, size_t whylen)
{
    uint8_t bytes[SECRET_KEY_BYTES];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        snprintf(why, whylen, "cannot make a secret key: no random bytes");
        return false;
    }
    char line[2 * SECRET_KEY_BYTES + 2];
    to_hex(bytes, sizeof bytes, line);
    strcat(line, "\n");
    /* O_EXCL: two masters starting at once must not each write their own. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0) ok = close(fd) == 0 && ok;
    if (!ok) {
        if (fd >= 0) unlink(path);
        snprintf(why, whylen, "cannot write the secret key %s: %s", path, strerror(e));
    } else {
        secret_key_from_bytes(key, bytes);
    }
    OPENSSL_cleanse(bytes, sizeof bytes);
    OPENSSL_cleanse(line, sizeof line);
    return ok;
}

bool secret_key_load(const char *path, bool create, secret_key *key, bool *created, char *why, size_t whylen)
{
    *created = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && create) {
        if (make_key_file(path, key, why, whylen)) return *created = true;
        if (errno != EEXIST) return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    }
    if (fd < 0) {
        snprintf(why, whylen, "cannot read the secret key %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    char text[200];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & 077)) n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0) {
        snprintf(why, whylen, "the secret key %s must be a regular file readable by its owner only (chmod 600)", path);
        return false;
    }
    text[n] = 0;
    size_t len = strcspn(text, "\r\n");
    uint8_t bytes[SECRET_KEY_BYTES];
    bool ok = len == 2 * SECRET_KEY_BYTES;
    for (size_t i = 0; ok && i < SECRET_KEY_BYTES; i++) {
        int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        bytes[i] = (uint8_t)(hi << 4 | (lo & 15));
    }
    OPENSSL_cleanse(text, sizeof text);
    if (!ok) {
        snprintf(why, whylen, "the secret key %s must hold 64 hex digits (32 bytes)", path);
    } else {
        secret_key_from_bytes(key, bytes);
    }
    OPENSSL_cleanse(bytes, sizeof bytes);
    return ok;
}

bool secret_box_seal(const secret_key *key, const char *context, const uint8_t *plain, size_t len, uint8_t **box,
                     size_t *box_len)
{
    *box = NULL;
    if (len > (size_t)INT32_MAX) return false;
    uint8_t *out = malloc(SECRET_BOX_OVERHEAD + len + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = out && c;
    if (ok) {
        memcpy(out, MAGIC, 3);
        ok = RAND_bytes(out + 3, NONCE_BYTES) == 1;
    }
    uint8_t *ct = out ? out + 3 + NONCE_BYTES : NULL;
    ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
         EVP_EncryptInit_ex(c, NULL, NULL, key->bytes, out + 3) == 1 &&
         EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)context, (int)strlen(context)) == 1 &&
         EVP_EncryptUpdate(c, ct, &n, plain, (int)len) == 1 && EVP_EncryptFinal_ex(c, ct + n, &fin) == 1 &&
         (size_t)(n + fin) == len && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, ct + len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(out);
        return false;
    }
    *box = out;
    *box_len = SECRET_BOX_OVERHEAD + len;
    return true;
}

bool secret_box_open(const secret_key *key, const char *context, const uint8_t *box, size_t box_len,
                     uint8_t **plain, size_t *len, char *why, size_t whylen)
{
    *plain = NULL;
    *len = 0;
    if (box_len < SECRET_BOX_OVERHEAD || memcmp(box, MAGIC, 3) || box_len - SECRET_BOX_OVERHEAD > (size_t)INT32_MAX) {
        snprintf(why, whylen, "not a sealed secret (format QS1)");
        return false;
    }
    size_t n_ct = box_len - SECRET_BOX_OVERHEAD;
    const uint8_t *nonce = box + 3, *ct = nonce + NONCE_BYTES, *tag = ct + n_ct;
    uint8_t *out = malloc(n_ct + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = out && c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
              EVP_DecryptInit_ex(c, NULL, NULL, key->bytes, nonce) == 1 &&
              EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)context, (int)strlen(context)) == 1 &&
              EVP_DecryptUpdate(c, out, &n, ct, (int)n_ct) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, (void *)tag) == 1;
    /* The tag is checked here: nothing decrypted is returned unless it holds. */
    bool authentic = ok && EVP_DecryptFinal_ex(c, out + n, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!authentic) {
        if (out) OPENSSL_cleanse(out, n_ct + 1);
        free(out);
        snprintf(why, whylen, ok ? "the sealed secret does not authenticate (another secret key, or changed bytes)"
                                 : "out of memory");
        return false;
    }
    out[n_ct] = 0;
    *plain = out;
    *len = n_ct;
    return true;
}

void secret_plain_free(uint8_t *plain, size_t len)
{
    if (!plain) return;
    OPENSSL_cleanse(plain, len);
    free(plain);
}

char *secret_base64_encode(const uint8_t *data, size_t len)
{
    if (len > (size_t)INT32_MAX / 2) return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out) EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

uint8_t *secret_base64_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    if (n % 4 || n > (size_t)INT32_MAX / 2) return NULL;
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    int got = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as bytes. */
    size_t pad = n >= 1 && text[n - 1] == '=' ? (n >= 2 && text[n - 2] == '=' ? 2 : 1) : 0;
    *len = (size_t)got - pad;
    out[*len] = 0;
    return out;
}
