/*
 * bundle_digest.c — a bundle's name: the SHA-256 of its bytes (OpenSSL's
 * EVP interface), as 64 lower-case hex digits.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "cluster/bundle.h"

void bundle_digest(const uint8_t *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) {
        /* Only on out of memory: a name no bundle can have. */
        snprintf(hex, 65, "%064d", 0);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
}

bool bundle_digest_valid(const char *hex)
{
    size_t n = 0;
    for (; hex[n]; n++)
        if (n == 64 || !((hex[n] >= '0' && hex[n] <= '9') || (hex[n] >= 'a' && hex[n] <= 'f'))) return false;
    return n == 64;
}

bool bundle_tar_name(const char *file_name, char hex[65])
{
    if (strlen(file_name) != 64 + 4 || strcmp(file_name + 64, ".tar")) return false;
    memcpy(hex, file_name, 64), hex[64] = 0;
    return bundle_digest_valid(hex);
}
