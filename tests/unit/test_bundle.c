/*
 * test_bundle.c — bundles (src/cluster/bundle.h): an app folder packed and
 * unpacked again, the same files giving the same digest whatever their
 * mtimes and creation order, what goes in (exclude, symbolic links
 * resolved), what packing refuses (links and paths leading out, FIFOs),
 * and hostile tars made here with libarchive that unpacking refuses
 * without writing anything outside its folder; an unpacked folder
 * compared with its bundle (bundle_compare.h) after each kind of change.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/bundle.h"
#include "cluster/bundle_compare.h"

static char base[64]; /* a fresh temporary folder per test */

static int rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/qyv-bundle-XXXXXX");
    assert_non_null(mkdtemp(base));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static const char *at(const char *rel)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, 512, "%s/%s", base, rel);
    return b;
}

static void write_file(const char *rel, const char *text, mode_t mode)
{
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static char *read_text(const char *rel)
{
    static char buf[4096];
    int fd = open(at(rel), O_RDONLY);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    return buf;
}

static bool exists(const char *rel)
{
    struct stat st;
    return lstat(at(rel), &st) == 0;
}

/* An app folder under `dir`: a manifest granting /app/data read-only,
 * a module, data files, an executable and a link inside. */
static void make_app(const char *dir, const char *fs_lines)
{
    char path[256];
    mkdir(at(dir), 0755);
    snprintf(path, sizeof path, "%s/app.qyv", dir);
    char manifest[1024];
    snprintf(manifest, sizeof manifest,
             "name: demo\nentrypoint: bin/app.wasm\ntype: http\npermissions:\n  fs:\n%s", fs_lines);
    write_file(path, manifest, 0644);
    snprintf(path, sizeof path, "%s/bin", dir), mkdir(at(path), 0700);
    snprintf(path, sizeof path, "%s/bin/app.wasm", dir), write_file(path, "asm-not-really", 0600);
    snprintf(path, sizeof path, "%s/data", dir), mkdir(at(path), 0700);
    snprintf(path, sizeof path, "%s/data/a.txt", dir), write_file(path, "alpha\n", 0600);
    snprintf(path, sizeof path, "%s/data/run.sh", dir), write_file(path, "#!/bin/sh\n", 0700);
    snprintf(path, sizeof path, "%s/data/sub", dir), mkdir(at(path), 0700);
    snprintf(path, sizeof path, "%s/data/sub/b.txt", dir), write_file(path, "beta\n", 0600);
    snprintf(path, sizeof path, "%s/data/secrets", dir), mkdir(at(path), 0700);
    snprintf(path, sizeof path, "%s/data/secrets/key", dir), write_file(path, "hunter2\n", 0600);
    snprintf(path, sizeof path, "%s/data/link.txt", dir);
    assert_int_equal(symlink("a.txt", at(path)), 0);
    snprintf(path, sizeof path, "%s/notes.md", dir), write_file(path, "not granted\n", 0644);
}

#define MAP_FS "    read: [/app/data]\n    exclude: [/app/data/secrets]\n"

static uint8_t *pack(const char *manifest_rel, size_t *len, char *why, size_t whylen)
{
    uint8_t *data = NULL;
    char name[64];
    if (!bundle_pack(at(manifest_rel), &data, len, name, sizeof name, why, whylen)) return NULL;
    assert_string_equal(name, "app.qyv");
    return data;
}

/* Pack app/app.qyv and unpack it into out/. */
static void pack_and_unpack(void)
{
    size_t len;
    char why[512];
    uint8_t *data = pack("app/app.qyv", &len, why, sizeof why);
    if (!data) fail_msg("%s", why);
    assert_int_equal(len % 512, 0);
    if (!bundle_unpack(data, len, at("out"), why, sizeof why)) fail_msg("%s", why);
    free(data);
}

static void test_round_trip(void **state)
{
    (void)state;
    make_app("app", MAP_FS);
    pack_and_unpack();
    assert_string_equal(read_text("out/data/a.txt"), "alpha\n");
    assert_string_equal(read_text("out/data/sub/b.txt"), "beta\n");
    assert_non_null(strstr(read_text("out/app.qyv"), "name: demo"));
    assert_string_equal(read_text("out/bin/app.wasm"), "asm-not-really");
    /* The link was packed as the file it names. */
    struct stat st;
    assert_int_equal(lstat(at("out/data/link.txt"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_string_equal(read_text("out/data/link.txt"), "alpha\n");
    /* Modes: 0755 for folders and executables, 0644 for the rest. */
    assert_int_equal(stat(at("out/data/run.sh"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    assert_int_equal(stat(at("out/data/a.txt"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* Excluded and ungranted paths stay behind. */
    assert_false(exists("out/data/secrets"));
    assert_false(exists("out/notes.md"));
}

static void test_scalar_form_takes_the_folder(void **state)
{
    (void)state;
    make_app("app", "    read\n");
    /* The YAML above is "fs:\n    read": rewrite it as a scalar. */
    write_file("app/app.qyv", "name: demo\nentrypoint: bin/app.wasm\ntype: http\npermissions:\n  fs: read\n", 0644);
    pack_and_unpack();
    assert_true(exists("out/notes.md"));
    assert_true(exists("out/data/secrets/key"));
}

static void test_no_files_granted(void **state)
{
    (void)state;
    make_app("app", "    read\n");
    write_file("app/app.qyv", "name: demo\nentrypoint: bin/app.wasm\n", 0644);
    pack_and_unpack();
    assert_true(exists("out/app.qyv"));
    assert_true(exists("out/bin/app.wasm"));
    assert_false(exists("out/data"));
}

/* The same files, made in another order with other modes and mtimes. */
static void test_deterministic(void **state)
{
    (void)state;
    make_app("one", MAP_FS);
    /* "two" gets the same content, created in reverse. */
    mkdir(at("two"), 0777);
    mkdir(at("two/data"), 0777);
    mkdir(at("two/data/secrets"), 0777);
    write_file("two/data/secrets/key", "other secret\n", 0644);
    mkdir(at("two/data/sub"), 0777);
    write_file("two/data/sub/b.txt", "beta\n", 0666);
    assert_int_equal(symlink("a.txt", at("two/data/link.txt")), 0);
    write_file("two/data/run.sh", "#!/bin/sh\n", 0744);
    write_file("two/data/a.txt", "alpha\n", 0640);
    mkdir(at("two/bin"), 0777);
    write_file("two/bin/app.wasm", "asm-not-really", 0644);
    write_file("two/app.qyv", read_text("one/app.qyv"), 0600);
    struct timespec old[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
    assert_int_equal(utimensat(AT_FDCWD, at("two/data/a.txt"), old, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, at("two/bin"), old, 0), 0);

    size_t len1, len2;
    char why[512], d1[65], d2[65];
    uint8_t *b1 = pack("one/app.qyv", &len1, why, sizeof why);
    if (!b1) fail_msg("%s", why);
    uint8_t *b2 = pack("two/app.qyv", &len2, why, sizeof why);
    if (!b2) fail_msg("%s", why);
    bundle_digest(b1, len1, d1);
    bundle_digest(b2, len2, d2);
    assert_string_equal(d1, d2);
    assert_int_equal(len1, len2);
    free(b1), free(b2);
}

static void test_digest(void **state)
{
    (void)state;
    char hex[65];
    bundle_digest((const uint8_t *)"abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(bundle_digest_valid(hex));
    hex[10] = 'A';
    assert_false(bundle_digest_valid(hex));
    hex[10] = '.';
    assert_false(bundle_digest_valid(hex));
    assert_false(bundle_digest_valid("ba7816bf"));
    assert_false(bundle_digest_valid(""));
    assert_false(bundle_digest_valid("../../../../../../../../../../../../../../../../../../etc/passwd"));
    char longer[80];
    memset(longer, 'a', 65), longer[65] = 0;
    assert_false(bundle_digest_valid(longer));
    longer[64] = 0;
    assert_true(bundle_digest_valid(longer));
}

static void expect_pack_refused(const char *manifest_rel, const char *needle)
{
    size_t len;
    char why[512] = "";
    uint8_t *data = pack(manifest_rel, &len, why, sizeof why);
    if (data) fail_msg("packed, but expected a refusal mentioning '%s'", needle);
    if (!strstr(why, needle)) fail_msg("'%s' does not mention '%s'", why, needle);
}

static void test_pack_refuses_link_out(void **state)
{
    (void)state;
    make_app("app", MAP_FS);
    assert_int_equal(symlink("/etc", at("app/data/etc")), 0);
    expect_pack_refused("app/app.qyv", "'data/etc' leads outside the app folder");
}

static void test_pack_refuses_module_out(void **state)
{
    (void)state;
    make_app("app", MAP_FS);
    write_file("outside.wasm", "x", 0644);
    unlink(at("app/bin/app.wasm"));
    assert_int_equal(symlink("../../outside.wasm", at("app/bin/app.wasm")), 0);
    expect_pack_refused("app/app.qyv", "'bin/app.wasm' leads outside the app folder");
    /* The manifest parser refuses '..' written in it. */
    write_file("app/app.qyv", "name: demo\nentrypoint: ../outside.wasm\n", 0644);
    expect_pack_refused("app/app.qyv", "app.qyv:2:");
}

static void test_pack_refuses_fifo_and_loops(void **state)
{
    (void)state;
    make_app("app", MAP_FS);
    assert_int_equal(mkfifo(at("app/data/pipe"), 0644), 0);
    expect_pack_refused("app/app.qyv", "'data/pipe' is a FIFO");
    unlink(at("app/data/pipe"));
    assert_int_equal(symlink("..", at("app/data/sub/up")), 0);
    expect_pack_refused("app/app.qyv", "symbolic link loop");
    unlink(at("app/data/sub/up"));
    unlink(at("app/bin/app.wasm"));
    expect_pack_refused("app/app.qyv", "cannot pack 'bin/app.wasm': No such file");
}

/* A hostile tar: one entry of the given kind. */
typedef enum { REG, LINK, HARD, FIFO } kind;

static uint8_t *hostile(const char *path, kind k, const char *target, size_t *len)
{
    static uint8_t buf[1 << 16];
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_memory(a, buf, sizeof buf, len), ARCHIVE_OK);
    /* A harmless entry first: it must be gone after the refusal. */
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "ok.txt");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 3);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, "ok\n", 3), 3);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, path);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 0);
    switch (k) {
    case REG: archive_entry_set_filetype(e, AE_IFREG), archive_entry_set_size(e, 4); break;
    case LINK: archive_entry_set_filetype(e, AE_IFLNK), archive_entry_set_symlink(e, target); break;
    case HARD: archive_entry_set_filetype(e, AE_IFREG), archive_entry_set_hardlink(e, target); break;
    case FIFO: archive_entry_set_filetype(e, AE_IFIFO); break;
    }
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (k == REG) assert_int_equal(archive_write_data(a, "bad\n", 4), 4);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return buf;
}

static void expect_unpack_refused(const uint8_t *data, size_t len, const char *needle)
{
    char why[512] = "";
    if (bundle_unpack(data, len, at("out"), why, sizeof why)) fail_msg("unpacked, expected '%s'", needle);
    if (!strstr(why, needle)) fail_msg("'%s' does not mention '%s'", why, needle);
    assert_false(exists("out"));   /* made by the call, removed again */
    assert_false(exists("x"));
}

static void test_unpack_refuses_hostile(void **state)
{
    (void)state;
    size_t len;
    uint8_t *t = hostile("../x", REG, NULL, &len);
    expect_unpack_refused(t, len, "the bundle holds the path '../x'");
    t = hostile("a/../../x", REG, NULL, &len);
    expect_unpack_refused(t, len, "'a/../../x'");
    char abs[600];
    snprintf(abs, sizeof abs, "%s", at("x"));
    t = hostile(abs, REG, NULL, &len);
    expect_unpack_refused(t, len, "must be relative");
    t = hostile("/etc/x", REG, NULL, &len);
    expect_unpack_refused(t, len, "'/etc/x'");
    t = hostile("root", LINK, "/", &len);
    expect_unpack_refused(t, len, "symbolic link to '/'");
    t = hostile("up", LINK, "../..", &len);
    expect_unpack_refused(t, len, "symbolic link to '../..'");
    t = hostile("h", HARD, "../x", &len);
    expect_unpack_refused(t, len, "hard link to '../x'");
    t = hostile("h", HARD, "/etc/passwd", &len);
    expect_unpack_refused(t, len, "hard link to '/etc/passwd'");
    t = hostile("p", FIFO, NULL, &len);
    expect_unpack_refused(t, len, "'p' is a FIFO");
    expect_unpack_refused((const uint8_t *)"definitely not a tar archive", 28, "not a");
}

/* Links that stay inside are fine, and writing through one is not. */
static void test_unpack_inner_links(void **state)
{
    (void)state;
    size_t len;
    uint8_t *t = hostile("same.txt", HARD, "ok.txt", &len);
    char why[512];
    if (!bundle_unpack(t, len, at("out"), why, sizeof why)) fail_msg("%s", why);
    assert_string_equal(read_text("out/same.txt"), "ok\n");
    nftw(at("out"), rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    t = hostile("here", LINK, "ok.txt", &len);
    if (!bundle_unpack(t, len, at("out"), why, sizeof why)) fail_msg("%s", why);
    assert_string_equal(read_text("out/here"), "ok\n");
}

/* expect_differs NEEDLE: out/ no longer matches data, and why says NEEDLE. */
static void expect_differs(const uint8_t *data, size_t len, const char *needle)
{
    char why[512];
    assert_false(bundle_matches_folder(data, len, at("out"), why, sizeof why));
    if (!strstr(why, needle)) fail_msg("'%s' does not say '%s'", why, needle);
}

static void test_compare_with_folder(void **state)
{
    (void)state;
    make_app("app", MAP_FS);
    size_t len;
    char why[512];
    uint8_t *data = pack("app/app.qyv", &len, why, sizeof why);
    if (!data || !bundle_unpack(data, len, at("out"), why, sizeof why)) fail_msg("%s", why);
    if (!bundle_matches_folder(data, len, at("out"), why, sizeof why)) fail_msg("a fresh unpack differs: %s", why);
    /* Files the bundle does not name are not looked at. */
    write_file("out/data/new.txt", "written by the app\n", 0644);
    if (!bundle_matches_folder(data, len, at("out"), why, sizeof why)) fail_msg("an extra file counts: %s", why);
    /* The same size, other bytes. */
    write_file("out/data/a.txt", "ALPHA\n", 0644);
    expect_differs(data, len, "data/a.txt: its bytes differ");
    write_file("out/data/a.txt", "alpha\n", 0644);
    write_file("out/bin/app.wasm", "asm", 0644);
    expect_differs(data, len, "bin/app.wasm: 3 bytes, the bundle's are 14");
    write_file("out/bin/app.wasm", "asm-not-really", 0644);
    assert_int_equal(unlink(at("out/data/sub/b.txt")), 0);
    expect_differs(data, len, "data/sub/b.txt: missing");
    write_file("out/data/sub/b.txt", "beta\n", 0644);
    /* A file made a link (even to the right bytes) is not the file. */
    assert_int_equal(unlink(at("out/data/link.txt")), 0);
    assert_int_equal(symlink("a.txt", at("out/data/link.txt")), 0);
    expect_differs(data, len, "data/link.txt");
    assert_int_equal(unlink(at("out/data/link.txt")), 0);
    write_file("out/data/link.txt", "alpha\n", 0644);
    if (!bundle_matches_folder(data, len, at("out"), why, sizeof why)) fail_msg("restored, it differs: %s", why);
    nftw(at("out"), rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    expect_differs(data, len, "missing");
    free(data);
}

static void test_unpack_into_used_folder(void **state)
{
    (void)state;
    mkdir(at("out"), 0755);
    write_file("out/keep", "mine\n", 0644);
    size_t len;
    uint8_t *t = hostile("fine.txt", REG, NULL, &len);
    char why[512];
    assert_false(bundle_unpack(t, len, at("out"), why, sizeof why));
    assert_non_null(strstr(why, "not an empty folder"));
    assert_string_equal(read_text("out/keep"), "mine\n");
}

int main(void)
{
    umask(022);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalar_form_takes_the_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_files_granted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
        cmocka_unit_test(test_digest),
        cmocka_unit_test_setup_teardown(test_pack_refuses_link_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_refuses_module_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_refuses_fifo_and_loops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_refuses_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_inner_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_into_used_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_with_folder, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
