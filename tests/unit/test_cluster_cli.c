/*
 * test_cluster_cli.c — what the `qyv cluster` commands do before any call
 * (src/cli/cluster_cli.h): server addresses as the guide writes them,
 * names, the app a manifest names, deploy overrides in the API's units,
 * where the configuration lives and which master and token win, the
 * token written 0600 and read back, and numbers written for people.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cluster_cli.h"

static char tmp[64];

static int rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/qyv-cli-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    unsetenv("QYVOL_MASTER");
    unsetenv("QYVOL_TOKEN_FILE");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void server_ok(const char *in, const char *want)
{
    char out[CLUSTER_ADDRESS_MAX], why[256];
    if (!cluster_parse_server(in, out, sizeof out, why, sizeof why)) fail_msg("'%s' refused: %s", in, why);
    assert_string_equal(out, want);
}

static void server_bad(const char *in, const char *needle)
{
    char out[CLUSTER_ADDRESS_MAX], why[256];
    if (cluster_parse_server(in, out, sizeof out, why, sizeof why)) fail_msg("'%s' accepted as %s", in, out);
    if (!strstr(why, needle)) fail_msg("'%s': '%s' does not mention '%s'", in, why, needle);
}

static void test_server_addresses(void **state)
{
    (void)state;
    server_ok("localhost:8080", "localhost:8080");
    server_ok("servidor1.example.com:8080", "servidor1.example.com:8080");
    server_ok("10.0.0.2", "10.0.0.2:7000");
    server_ok("http://api.example.com", "api.example.com:7000");
    server_ok("http://127.0.0.1:7001/", "127.0.0.1:7001");
    server_ok("[::1]:7000", "[::1]:7000");
    server_ok("http://[fe80::1]", "[fe80::1]:7000");
    server_ok("https://mi-servidor.com", "mi-servidor.com:7000");
    server_ok("https://10.0.0.1:7443/", "10.0.0.1:7443");
    server_bad("ftp://x:21", "only https:// and http://");
    server_bad("http://h:7000/v1", "no path");
    server_bad("::1:7000", "brackets");
    server_bad("h:0", "port");
    server_bad("h:65536", "port");
    server_bad("h:80x", "port");
    server_bad("h:", "port");
    server_bad(":7000", "no host");
    server_bad("", "not HOST:PORT");
    server_bad("a b:1", "not HOST:PORT");
    server_bad("[zz]:1", "IPV6");
}

static void test_names(void **state)
{
    (void)state;
    assert_true(cluster_name_valid("node-a"));
    assert_true(cluster_name_valid("web2"));
    assert_true(cluster_name_valid("a"));
    assert_false(cluster_name_valid(""));
    assert_false(cluster_name_valid("-a"));
    assert_false(cluster_name_valid("a-"));
    assert_false(cluster_name_valid("Node"));
    assert_false(cluster_name_valid("a_b"));
    assert_false(cluster_name_valid("a.b"));
    char long_name[80];
    memset(long_name, 'a', 64), long_name[64] = 0;
    assert_false(cluster_name_valid(long_name));
    long_name[63] = 0;
    assert_true(cluster_name_valid(long_name));
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_app_names(void **state)
{
    (void)state;
    char name[128], why[600], path[256];
    assert_true(cluster_app_name("web", name, sizeof name, why, sizeof why));
    assert_string_equal(name, "web");
    snprintf(path, sizeof path, "%s/app.qyv", tmp);
    write_text(path, "name: mi-aplicacion\nentrypoint: app.component.wasm\n");
    assert_true(cluster_app_name(path, name, sizeof name, why, sizeof why));
    assert_string_equal(name, "mi-aplicacion");
    /* A manifest that does not load says where. */
    write_text(path, "name: Bad Name\nentrypoint: app.wasm\n");
    assert_false(cluster_app_name(path, name, sizeof name, why, sizeof why));
    assert_non_null(strstr(why, "app.qyv:1:7:"));
    assert_false(cluster_app_name("missing.qyv", name, sizeof name, why, sizeof why));
    assert_non_null(strstr(why, "missing.qyv"));
    assert_false(cluster_app_name("Web_App", name, sizeof name, why, sizeof why));
    assert_non_null(strstr(why, "neither a manifest"));
}

static json_t *override_ok(json_t *o, const char *opt, const char *arg)
{
    char why[256];
    if (!cluster_override(o, opt, arg, why, sizeof why)) fail_msg("--%s %s refused: %s", opt, arg, why);
    return json_object_get(o, opt);
}

static void override_bad(const char *opt, const char *arg, const char *needle)
{
    json_t *o = json_object();
    char why[256];
    if (cluster_override(o, opt, arg, why, sizeof why)) fail_msg("--%s %s accepted", opt, arg);
    if (!strstr(why, needle)) fail_msg("--%s %s: '%s' does not mention '%s'", opt, arg, why, needle);
    json_decref(o);
}

static void test_overrides(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_int_equal(json_integer_value(override_ok(o, "replicas", "10")), 10);
    assert_int_equal(json_integer_value(override_ok(o, "memory", "512MB")), 512000000);
    assert_int_equal(json_integer_value(override_ok(o, "memory", "256MiB")), 256 << 20);
    assert_int_equal(json_integer_value(override_ok(o, "cpu", "0.5")), 500);
    assert_int_equal(json_integer_value(override_ok(o, "cpu", "1.0")), 1000);
    assert_int_equal(json_integer_value(override_ok(o, "cpu", "250m")), 250);
    assert_int_equal(json_integer_value(override_ok(o, "port", "8080")), 8080);
    override_ok(o, "env", "NODE_ENV=production");
    json_t *env = override_ok(o, "env", "EMPTY=");
    assert_int_equal(json_array_size(env), 2);
    assert_string_equal(json_string_value(json_array_get(env, 1)), "EMPTY=");
    override_ok(o, "nodes", "servidor1,servidor2");
    json_t *nodes = override_ok(o, "nodes", "servidor2,servidor3");
    assert_int_equal(json_array_size(nodes), 3);
    assert_string_equal(json_string_value(json_array_get(nodes, 2)), "servidor3");
    json_decref(o);

    override_bad("replicas", "0", "from 1 to 10000");
    override_bad("replicas", "10001", "from 1 to 10000");
    override_bad("replicas", "-1", "whole number");
    override_bad("replicas", "3x", "whole number");
    override_bad("memory", "128m", "unknown unit");
    override_bad("memory", "1KiB", "64KiB");
    override_bad("cpu", "-1", "--cpu has an invalid CPU amount '-1'");
    override_bad("cpu", "0", "--cpu has an invalid CPU amount '0'");
    override_bad("port", "0", "from 1 to 65535");
    override_bad("port", "70000", "from 1 to 65535");
    override_bad("env", "NOEQUALS", "NAME=VALUE");
    override_bad("env", "1X=y", "NAME=VALUE");
    override_bad("env", "=y", "NAME=VALUE");
    override_bad("nodes", "a,,b", "separated by commas");
    override_bad("nodes", "", "separated by commas");
    override_bad("nodes", "Servidor1", "not a node name");
    override_bad("rollback", "x", "not a deploy override");

    bool json = false;
    assert_true(cluster_output("json", &json) && json);
    assert_true(cluster_output("table", &json) && !json);
    assert_false(cluster_output("yaml", &json));
}

static void test_config_dir(void **state)
{
    (void)state;
    char dir[PATH_MAX], why[256];
    setenv("XDG_CONFIG_HOME", "/x/config", 1);
    assert_true(cluster_config_dir(dir, sizeof dir, why, sizeof why));
    assert_string_equal(dir, "/x/config/qyvol");
    setenv("XDG_CONFIG_HOME", "relative", 1); /* invalid by the XDG spec */
    setenv("HOME", "/home/ana", 1);
    assert_true(cluster_config_dir(dir, sizeof dir, why, sizeof why));
    assert_string_equal(dir, "/home/ana/.config/qyvol");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_false(cluster_config_dir(dir, sizeof dir, why, sizeof why));
    assert_non_null(strstr(why, "HOME"));
}

static void test_config_round_trip_and_precedence(void **state)
{
    (void)state;
    char why[512], path[PATH_MAX];
    setenv("XDG_CONFIG_HOME", tmp, 1);
    cluster_ctx ctx = {.command = "cluster test"};
    /* Nothing stored: the defaults. */
    assert_true(cluster_ctx_resolve(&ctx, NULL, NULL, why, sizeof why));
    assert_string_equal(ctx.master, CLUSTER_DEFAULT_MASTER);
    snprintf(path, sizeof path, "%s/qyvol/token", tmp);
    assert_string_equal(ctx.token_file, path);

    cluster_config cfg = {0};
    snprintf(cfg.master, sizeof cfg.master, "servidor.example.com:7000");
    snprintf(cfg.token_file, sizeof cfg.token_file, "/etc/qyvol/token");
    snprintf(path, sizeof path, "%s/qyvol", tmp);
    assert_true(cluster_config_save(path, &cfg, why, sizeof why));
    struct stat st;
    snprintf(path, sizeof path, "%s/qyvol/cluster.json", tmp);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/qyvol", tmp);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_true(cluster_ctx_resolve(&ctx, NULL, NULL, why, sizeof why));
    assert_string_equal(ctx.master, "servidor.example.com:7000");
    assert_string_equal(ctx.token_file, "/etc/qyvol/token");
    setenv("QYVOL_MASTER", "http://env-master", 1);
    setenv("QYVOL_TOKEN_FILE", "/env/token", 1);
    assert_true(cluster_ctx_resolve(&ctx, NULL, NULL, why, sizeof why));
    assert_string_equal(ctx.master, "env-master:7000");
    assert_string_equal(ctx.token_file, "/env/token");
    assert_true(cluster_ctx_resolve(&ctx, "flag:7100", "/flag/token", why, sizeof why));
    assert_string_equal(ctx.master, "flag:7100");
    assert_string_equal(ctx.token_file, "/flag/token");
    /* A bad address names where it came from. */
    assert_false(cluster_ctx_resolve(&ctx, "ftp://x", NULL, why, sizeof why));
    assert_non_null(strstr(why, "--master: "));
    /* https without the cluster CA to check it with. */
    assert_false(cluster_ctx_resolve(&ctx, "https://x", NULL, why, sizeof why));
    assert_non_null(strstr(why, "cluster CA"));
    assert_true(cluster_ctx_resolve(&ctx, "http://x", NULL, why, sizeof why));
    assert_false(ctx.tls);
    unsetenv("QYVOL_MASTER");
    unsetenv("QYVOL_TOKEN_FILE");
    /* A bad stored master: said, with the way out, the token file still set. */
    snprintf(cfg.master, sizeof cfg.master, "ftp://secure");
    snprintf(path, sizeof path, "%s/qyvol", tmp);
    assert_true(cluster_config_save(path, &cfg, why, sizeof why));
    assert_false(cluster_ctx_resolve(&ctx, NULL, NULL, why, sizeof why));
    assert_non_null(strstr(why, "cluster.json: 'ftp://secure'"));
    assert_non_null(strstr(why, "qyv cluster set-master"));
    assert_string_equal(ctx.master, "");
    assert_string_equal(ctx.token_file, "/etc/qyvol/token");

    /* A broken configuration says so. */
    snprintf(path, sizeof path, "%s/qyvol/cluster.json", tmp);
    write_text(path, "{\"master\": ");
    assert_false(cluster_ctx_resolve(&ctx, NULL, NULL, why, sizeof why));
    assert_non_null(strstr(why, "cluster.json:"));
    write_text(path, "[1]");
    assert_false(cluster_ctx_resolve(&ctx, NULL, NULL, why, sizeof why));
    assert_non_null(strstr(why, "not a client configuration"));
}

static void test_token_files(void **state)
{
    (void)state;
    char path[PATH_MAX], token[65], other[65], got[256], why[512];
    assert_true(cluster_token_new(token, why, sizeof why));
    assert_true(cluster_token_new(other, why, sizeof why));
    assert_int_equal(strlen(token), 64);
    assert_int_equal(strspn(token, "0123456789abcdef"), 64);
    assert_string_not_equal(token, other);

    snprintf(path, sizeof path, "%s/deep/er/token", tmp);
    assert_true(cluster_secret_write(path, token, false, why, sizeof why));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Not replaced without being asked; replaced when asked. */
    assert_false(cluster_secret_write(path, other, false, why, sizeof why));
    assert_non_null(strstr(why, "already exists"));
    assert_true(cluster_token_read(path, got, sizeof got, why, sizeof why));
    assert_string_equal(got, token);
    assert_true(cluster_secret_write(path, other, true, why, sizeof why));
    assert_true(cluster_token_read(path, got, sizeof got, why, sizeof why));
    assert_string_equal(got, other);

    write_text(path, "two words\n");
    assert_false(cluster_token_read(path, got, sizeof got, why, sizeof why));
    assert_non_null(strstr(why, "space"));
    write_text(path, "\n");
    assert_false(cluster_token_read(path, got, sizeof got, why, sizeof why));
    assert_non_null(strstr(why, "empty"));
    write_text(path, "mi-token-secreto\r\n");
    assert_true(cluster_token_read(path, got, sizeof got, why, sizeof why));
    assert_string_equal(got, "mi-token-secreto");
    snprintf(path, sizeof path, "%s/none", tmp);
    assert_false(cluster_token_read(path, got, sizeof got, why, sizeof why));
    assert_non_null(strstr(why, "No such file"));
}

static void test_formats(void **state)
{
    (void)state;
    char b[32];
    cluster_format_bytes(0, b, sizeof b), assert_string_equal(b, "0B");
    cluster_format_bytes(536870912, b, sizeof b), assert_string_equal(b, "512MiB");
    cluster_format_bytes(8ull << 30, b, sizeof b), assert_string_equal(b, "8GiB");
    cluster_format_bytes(1536, b, sizeof b), assert_string_equal(b, "1.5KiB");
    cluster_format_bytes(128000000, b, sizeof b), assert_string_equal(b, "122.1MiB");
    cluster_format_cpu(500, b, sizeof b), assert_string_equal(b, "0.5");
    cluster_format_cpu(4000, b, sizeof b), assert_string_equal(b, "4");
    cluster_format_cpu(1250, b, sizeof b), assert_string_equal(b, "1.25");
    cluster_format_age(420, b, sizeof b), assert_string_equal(b, "420ms");
    cluster_format_age(2500, b, sizeof b), assert_string_equal(b, "2.5s");
    cluster_format_age(65000, b, sizeof b), assert_string_equal(b, "1m5s");
    cluster_format_age(3 * 3600000 + 120000, b, sizeof b), assert_string_equal(b, "3h2m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_addresses),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_app_names, setup, teardown),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_config_dir),
        cmocka_unit_test_setup_teardown(test_config_round_trip_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_files, setup, teardown),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
