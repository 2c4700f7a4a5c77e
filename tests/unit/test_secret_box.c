/*
 * test_secret_box.c — secrets at rest (src/cluster/secret_box.h): a box
 * opens to what was sealed; a changed byte anywhere, another key, another
 * context (name or version) or a cut box is refused; the key file is made
 * 0600, read back, and refused when others can read it or it is not a key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/secret_box.h"

static secret_key key_of(uint8_t fill)
{
    uint8_t bytes[SECRET_KEY_BYTES];
    memset(bytes, fill, sizeof bytes);
    secret_key k;
    secret_key_from_bytes(&k, bytes);
    return k;
}

static const char value[] = "s3cr3t-Value!";

static void seals_and_opens(void **state)
{
    (void)state;
    secret_key k = key_of(7);
    uint8_t *box, *plain;
    size_t box_len, len;
    char why[200];
    assert_true(secret_box_seal(&k, "db:1", (const uint8_t *)value, strlen(value), &box, &box_len));
    assert_int_equal(box_len, strlen(value) + SECRET_BOX_OVERHEAD);
    assert_null(memmem(box, box_len, value, strlen(value))); /* not in the clear */
    assert_true(secret_box_open(&k, "db:1", box, box_len, &plain, &len, why, sizeof why));
    assert_int_equal(len, strlen(value));
    assert_memory_equal(plain, value, len);
    assert_int_equal(plain[len], 0);
    secret_plain_free(plain, len);
    /* Two seals of one value differ (a fresh nonce each). */
    uint8_t *again;
    size_t again_len;
    assert_true(secret_box_seal(&k, "db:1", (const uint8_t *)value, strlen(value), &again, &again_len));
    assert_memory_not_equal(box, again, box_len);
    free(again);
    free(box);
    /* An empty value seals too. */
    assert_true(secret_box_seal(&k, "e:1", (const uint8_t *)"", 0, &box, &box_len));
    assert_true(secret_box_open(&k, "e:1", box, box_len, &plain, &len, why, sizeof why));
    assert_int_equal(len, 0);
    secret_plain_free(plain, len);
    free(box);
}

static void tampering_is_detected(void **state)
{
    (void)state;
    secret_key k = key_of(7);
    uint8_t *box, *plain;
    size_t box_len, len;
    char why[200];
    assert_true(secret_box_seal(&k, "db:1", (const uint8_t *)value, strlen(value), &box, &box_len));
    /* Every byte after the format mark: nonce, ciphertext, tag. */
    for (size_t i = 0; i < box_len; i++) {
        box[i] ^= 0x01;
        assert_false(secret_box_open(&k, "db:1", box, box_len, &plain, &len, why, sizeof why));
        assert_null(plain);
        box[i] ^= 0x01;
    }
    assert_false(secret_box_open(&k, "db:1", box, box_len - 1, &plain, &len, why, sizeof why));
    assert_false(secret_box_open(&k, "db:1", box, 5, &plain, &len, why, sizeof why));
    assert_non_null(strstr(why, "not a sealed secret"));
    /* Moved to another name or version: refused. */
    assert_false(secret_box_open(&k, "db:2", box, box_len, &plain, &len, why, sizeof why));
    assert_false(secret_box_open(&k, "dc:1", box, box_len, &plain, &len, why, sizeof why));
    assert_non_null(strstr(why, "does not authenticate"));
    /* And the untouched box still opens. */
    assert_true(secret_box_open(&k, "db:1", box, box_len, &plain, &len, why, sizeof why));
    secret_plain_free(plain, len);
    free(box);
}

static void wrong_key_is_refused(void **state)
{
    (void)state;
    secret_key k = key_of(7), other = key_of(8);
    assert_string_not_equal(k.id, other.id);
    uint8_t *box, *plain;
    size_t box_len, len;
    char why[200];
    assert_true(secret_box_seal(&k, "db:1", (const uint8_t *)value, strlen(value), &box, &box_len));
    assert_false(secret_box_open(&other, "db:1", box, box_len, &plain, &len, why, sizeof why));
    assert_non_null(strstr(why, "another secret key"));
    free(box);
}

static void key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/qyv-secret-key-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[200];
    snprintf(path, sizeof path, "%s/secret.key", dir);
    secret_key made, read_back;
    bool created;
    char why[300];
    assert_false(secret_key_load(path, false, &made, &created, why, sizeof why)); /* missing, not made */
    assert_true(secret_key_load(path, true, &made, &created, why, sizeof why));
    assert_true(created);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(secret_key_load(path, true, &read_back, &created, why, sizeof why));
    assert_false(created);
    assert_memory_equal(made.bytes, read_back.bytes, SECRET_KEY_BYTES);
    assert_string_equal(made.id, read_back.id);
    chmod(path, 0644);
    assert_false(secret_key_load(path, true, &read_back, &created, why, sizeof why));
    assert_non_null(strstr(why, "owner only"));
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    chmod(path, 0600);
    assert_false(secret_key_load(path, true, &read_back, &created, why, sizeof why));
    assert_non_null(strstr(why, "64 hex digits"));
    unlink(path);
    rmdir(dir);
}

static void base64_and_hashes(void **state)
{
    (void)state;
    char *b = secret_base64_encode((const uint8_t *)"ab\0c", 4);
    assert_string_equal(b, "YWIAYw==");
    size_t n;
    uint8_t *d = secret_base64_decode(b, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(d, "ab\0c", 4);
    free(d);
    free(b);
    assert_null(secret_base64_decode("abc", &n));
    assert_null(secret_base64_decode("a*c=", &n));
    char hex[65];
    secret_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(secret_equal("abcd", "abcd", 4));
    assert_false(secret_equal("abcd", "abce", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seals_and_opens),      cmocka_unit_test(tampering_is_detected),
        cmocka_unit_test(wrong_key_is_refused), cmocka_unit_test(key_file),
        cmocka_unit_test(base64_and_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
