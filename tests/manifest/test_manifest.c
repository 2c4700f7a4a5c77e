/*
 * test_manifest.c — the `.qyv` manifest parser (src/manifest/): the unit
 * parsers at their edges, key suggestions, valid manifests read into every
 * field with defaults applied (among them each manifest of the Qyvol guide,
 * valid/guide_*.qyv, as written), the app type inferred from a route or a
 * health check, the warnings a loaded manifest carries, and malformed
 * manifests, each rejected with its exact "FILE:LINE:COLUMN: message".
 *
 * Fixtures are read from MANIFEST_FIXTURES (default
 * tests/manifest/fixtures, relative to the repository root, where the tests
 * run). Every file in fixtures/bad/ must have an entry in bad_fixtures[]
 * below, so a fixture cannot sit there untested.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "manifest/manifest.h"
#include "manifest/suggest.h"
#include "manifest/units.h"

#ifndef MANIFEST_FIXTURES
#define MANIFEST_FIXTURES "tests/manifest/fixtures"
#endif

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* ------------------------------------------------------------ unit parsers */

typedef struct size_case { const char *text; uint64_t bytes; } size_case;
typedef struct reject_case { const char *text; const char *why; } reject_case;

static void sizes_parse_exactly(void **state)
{
    (void)state;
    static const size_case cases[] = {
        {"0", 0}, {"1", 1}, {"1B", 1}, {"1k", 1000}, {"1K", 1000}, {"1kB", 1000}, {"1KB", 1000},
        {"1Ki", 1024}, {"1KiB", 1024}, {"128MB", 128000000}, {"128M", 128000000},
        {"512Mi", 536870912}, {"512MiB", 536870912}, {"1G", 1000000000}, {"1GB", 1000000000},
        {"1GiB", 1073741824}, {"1Gi", 1073741824}, {"2T", 2000000000000}, {"1TiB", 1099511627776},
        {"1.5GiB", 1610612736}, {"0.5K", 500}, {"1.50KB", 1500}, {"0.000001MB", 1},
        {"0128MB", 128000000}, {"1.0000000000000000000000K", 1000},
        {"18446744073709551615", UINT64_MAX}, {"18446744073709551615B", UINT64_MAX},
        {"16777215Ti", 16777215ull << 40}, {"0.000000000001TB", 1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        uint64_t bytes = 12345;
        char why[200] = "";
        if (!qv_parse_size(cases[i].text, &bytes, why, sizeof why))
            fail_msg("size '%s' rejected: %s", cases[i].text, why);
        if (bytes != cases[i].bytes)
            fail_msg("size '%s' is %llu, expected %llu", cases[i].text, (unsigned long long)bytes,
                     (unsigned long long)cases[i].bytes);
    }
}

#define SIZE_UNITS "use B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"

static void sizes_reject_nonsense(void **state)
{
    (void)state;
    static const reject_case cases[] = {
        {"", "expected a number"},
        {"-1", "it cannot be negative"},
        {"-1GiB", "it cannot be negative"},
        {"+1", "a sign is not allowed"},
        {".5G", "write a digit before the decimal point (0.5, not .5)"},
        {"1.", "expected digits after the decimal point"},
        {"1.G", "expected digits after the decimal point"},
        {"1.5B", "it is not a whole number of bytes"},
        {"1.5", "it is not a whole number of bytes"},
        {"0.0000001MB", "it is not a whole number of bytes"},
        {"1.0000000000000000001K", "it is not a whole number of bytes"},
        {"128m", "unknown unit 'm'; " SIZE_UNITS},
        {"1mb", "unknown unit 'mb'; " SIZE_UNITS},
        {"1KIB", "unknown unit 'KIB'; " SIZE_UNITS},
        {"1PB", "unknown unit 'PB'; " SIZE_UNITS},
        {"1e6", "unknown unit 'e'; " SIZE_UNITS},
        {"1 MB", "no space is allowed inside the value"},
        {"1MB ", "no space is allowed inside the value"},
        {"1,000", "unexpected character ','"},
        {"1\x01", "unexpected byte 0x01"},
        {"MB", "expected a number before the unit"},
        {"18446744073709551616", "it is too large"},
        {"16777216Ti", "it is too large"},
        {"18446744073709551615.5K", "it is too large"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        uint64_t bytes = 12345;
        char why[200] = "";
        if (qv_parse_size(cases[i].text, &bytes, why, sizeof why))
            fail_msg("size '%s' accepted as %llu", cases[i].text, (unsigned long long)bytes);
        assert_string_equal(why, cases[i].why);
        assert_int_equal(bytes, 12345);    /* untouched on failure */
    }
}

static void cpu_amounts_parse_exactly(void **state)
{
    (void)state;
    static const struct { const char *text; uint32_t millicores; } cases[] = {
        {"0.5", 500}, {"2", 2000}, {"500m", 500}, {"1m", 1}, {"0.001", 1}, {"2.0", 2000},
        {"1.25", 1250}, {"4294967295m", UINT32_MAX}, {"4294967.295", UINT32_MAX},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        uint32_t mc = 7;
        char why[200] = "";
        if (!qv_parse_cpu(cases[i].text, &mc, why, sizeof why))
            fail_msg("cpu '%s' rejected: %s", cases[i].text, why);
        assert_int_equal(mc, cases[i].millicores);
    }
}

#define CPU_UNITS "write cores as a plain number (0.5, 2) or millicores with 'm' (500m)"

static void cpu_amounts_reject_nonsense(void **state)
{
    (void)state;
    static const reject_case cases[] = {
        {"0", "it must be more than 0"},
        {"0m", "it must be more than 0"},
        {"0.0", "it must be more than 0"},
        {"0.0005", "it is not a whole number of millicores (the smallest amount is 0.001 or 1m)"},
        {"1.5m", "it is not a whole number of millicores (the smallest amount is 0.001 or 1m)"},
        {"-1", "it cannot be negative"},
        {"4294967296m", "it is too large"},
        {"4294968", "it is too large"},
        {"99999999999999999999", "it is too large"},
        {"2cores", "unknown unit 'cores'; " CPU_UNITS},
        {"500M", "unknown unit 'M'; " CPU_UNITS},
        {"m", "expected a number before the unit"},
        {"", "expected a number"},
        {"1 m", "no space is allowed inside the value"},
        {"50%", "unexpected character '%'"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        uint32_t mc = 7;
        char why[200] = "";
        if (qv_parse_cpu(cases[i].text, &mc, why, sizeof why))
            fail_msg("cpu '%s' accepted as %u", cases[i].text, mc);
        assert_string_equal(why, cases[i].why);
        assert_int_equal(mc, 7);
    }
}

static void durations_parse_exactly(void **state)
{
    (void)state;
    static const size_case cases[] = {
        {"30s", 30000}, {"500ms", 500}, {"2m", 120000}, {"1h", 3600000}, {"1h30m", 5400000},
        {"1m30s", 90000}, {"1s500ms", 1500}, {"1.5s", 1500}, {"0.001s", 1}, {"0s", 0},
        {"0.5m", 30000}, {"1h0m0s0ms", 3600000}, {"2h1ms", 7200001},
        {"18446744073709551615ms", UINT64_MAX},
        {"5124095576030h", 5124095576030ull * 3600000},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        uint64_t ms = 12345;
        char why[200] = "";
        if (!qv_parse_duration(cases[i].text, &ms, why, sizeof why))
            fail_msg("duration '%s' rejected: %s", cases[i].text, why);
        if (ms != cases[i].bytes)
            fail_msg("duration '%s' is %llu ms, expected %llu", cases[i].text,
                     (unsigned long long)ms, (unsigned long long)cases[i].bytes);
    }
}

#define NEEDS_UNIT "every number needs a unit: ms, s, m or h (e.g. 30s)"
#define ORDER "units must go from largest to smallest, each at most once (e.g. 1h30m)"

static void durations_reject_nonsense(void **state)
{
    (void)state;
    static const reject_case cases[] = {
        {"30", NEEDS_UNIT},
        {"0", NEEDS_UNIT},
        {"1h30", NEEDS_UNIT},
        {"-5s", "it cannot be negative"},
        {"5sec", "unknown unit 'sec'; use ms, s, m or h"},
        {"1d", "unknown unit 'd'; use ms, s, m or h"},
        {"1.5ms", "it is not a whole number of milliseconds"},
        {"0.0001s", "it is not a whole number of milliseconds"},
        {"1s1h", ORDER},
        {"1m1m", ORDER},
        {"1ms1s", ORDER},
        {"5 s", "no space is allowed inside the value"},
        {"", "expected a number"},
        {"s", "expected a number before the unit"},
        {"1s-", "unexpected character '-'"},
        {"1s.5ms", "unexpected character '.'"},
        {"18446744073709551616ms", "it is too large"},
        {"5124095576031h", "it is too large"},
        {"5124095576030h999999999ms", "it is too large"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        uint64_t ms = 12345;
        char why[200] = "";
        if (qv_parse_duration(cases[i].text, &ms, why, sizeof why))
            fail_msg("duration '%s' accepted as %llu ms", cases[i].text, (unsigned long long)ms);
        assert_string_equal(why, cases[i].why);
        assert_int_equal(ms, 12345);
    }
}

static void unit_errors_fit_small_buffers(void **state)
{
    (void)state;
    uint64_t v;
    char why[8];
    assert_false(qv_parse_size("128m", &v, why, sizeof why));
    assert_string_equal(why, "unknown");     /* truncated, still terminated */
    assert_false(qv_parse_size("128m", &v, NULL, 0));
}

/* ------------------------------------------------------------ suggestions */

static void edit_distance_counts_typos(void **state)
{
    (void)state;
    assert_int_equal(mf_edit_distance("", ""), 0);
    assert_int_equal(mf_edit_distance("abc", ""), 3);
    assert_int_equal(mf_edit_distance("name", "nmae"), 1);       /* swap */
    assert_int_equal(mf_edit_distance("replica", "replicas"), 1);
    assert_int_equal(mf_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(mf_edit_distance("enviroment", "environment"), 1);
    assert_int_equal(mf_edit_distance("ca", "abc"), 3);          /* OSA, not Damerau */
    char longer[80];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_true(mf_edit_distance(longer, "a") == SIZE_MAX);
}

static void suggestions_only_for_likely_typos(void **state)
{
    (void)state;
    static const char *const types[] = {"cli", "http"};
    static const char *const keys[] = {"fs", "env", "entrypoint", "timeout"};
    assert_string_equal(mf_suggest("HTTP", types, 2), "http");
    assert_string_equal(mf_suggest("htp", types, 2), "http");
    assert_string_equal(mf_suggest("emv", keys, 4), "env");
    assert_string_equal(mf_suggest("entry_point", keys, 4), "entrypoint");
    assert_string_equal(mf_suggest("tiemout", keys, 4), "timeout");
    assert_null(mf_suggest("fz", keys, 4));          /* 1 edit of 2 letters is a guess */
    assert_null(mf_suggest("timeouts!!", keys, 4));  /* 3 edits */
    assert_null(mf_suggest("grpc", types, 2));
}

/* ------------------------------------------------------------ valid manifests */

static qv_manifest *load_fixture(const char *relative)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", MANIFEST_FIXTURES, relative);
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_load(path, &err);
    if (!m) fail_msg("%s should load: %s", path, err.message);
    return m;
}

static void full_example_fills_every_field(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/full.qyv");
    assert_string_equal(m->file, MANIFEST_FIXTURES "/valid/full.qyv");
    assert_string_equal(m->dir, MANIFEST_FIXTURES "/valid");
    assert_string_equal(m->name, "my-app");
    assert_string_equal(m->entrypoint, "app.wasm");
    assert_string_equal(m->entrypoint_path, MANIFEST_FIXTURES "/valid/app.wasm");
    assert_int_equal(m->runtime, QV_RUNTIME_WASI);
    assert_string_equal(m->language, "rust");
    assert_int_equal(m->type, QV_APP_HTTP);
    assert_int_equal(m->args.count, 1);
    assert_string_equal(m->args.items[0], "--verbose");
    assert_int_equal(m->env.count, 1);
    assert_string_equal(m->env.vars[0].name, "LOG_LEVEL");
    assert_string_equal(m->env.vars[0].value, "info");
    assert_string_equal(m->route, "/my-app");
    assert_int_equal(m->timeout_ms, 30000);
    assert_int_equal(m->permissions.fs.access, QV_FS_READ);
    assert_int_equal(m->permissions.fs.read.count, 0);
    assert_int_equal(m->permissions.net.access, QV_NET_NONE);
    assert_false(m->permissions.exec);
    assert_int_equal(m->fs.type, QV_FS_MEMFS);
    assert_string_equal(m->fs.source, "./data");
    assert_string_equal(m->fs.source_path, MANIFEST_FIXTURES "/valid/data");
    assert_int_equal(m->deploy.replicas, 3);
    assert_int_equal(m->deploy.resources.memory_bytes, 128000000);
    assert_int_equal(m->deploy.resources.cpu_millicores, 500);
    assert_true(m->deploy.health_check.enabled);
    assert_string_equal(m->deploy.health_check.path, "/health");
    assert_int_equal(m->deploy.health_check.interval_ms, 30000);
    assert_int_equal(m->deploy.health_check.timeout_ms, 5000);
    assert_int_equal(m->deploy.health_check.retries, 3);
    assert_int_equal(m->cluster.algorithm, QV_LB_LEAST_CONNECTIONS);
    qv_manifest_free(m);
}

static void minimal_manifest_gets_defaults(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/minimal.qyv");
    assert_string_equal(m->name, "hello");
    assert_string_equal(m->entrypoint_path, MANIFEST_FIXTURES "/valid/hello.wasm");
    assert_int_equal(m->runtime, QV_RUNTIME_WASI);
    assert_null(m->language);
    assert_int_equal(m->type, QV_APP_CLI);
    assert_int_equal(m->args.count, 0);
    assert_int_equal(m->env.count, 0);
    assert_null(m->route);                       /* cli apps have none */
    assert_int_equal(m->timeout_ms, QV_MANIFEST_DEFAULT_TIMEOUT_MS);
    assert_int_equal(m->permissions.fs.access, QV_FS_NONE);
    assert_int_equal(m->permissions.net.access, QV_NET_NONE);
    assert_true(m->permissions.net.outbound_only);
    assert_false(m->permissions.exec);
    assert_int_equal(m->fs.type, QV_FS_DISKFS);
    assert_string_equal(m->fs.source, ".");
    assert_string_equal(m->fs.source_path, MANIFEST_FIXTURES "/valid");
    assert_int_equal(m->deploy.replicas, 1);
    assert_int_equal(m->deploy.resources.memory_bytes, 0);
    assert_int_equal(m->deploy.resources.cpu_millicores, 0);
    assert_false(m->deploy.health_check.enabled);
    assert_null(m->deploy.health_check.path);
    assert_int_equal(m->cluster.algorithm, QV_LB_ROUND_ROBIN);
    qv_manifest_free(m);
}

static void map_forms_of_permissions(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/paths.qyv");
    const qv_fs_permission *fs = &m->permissions.fs;
    assert_int_equal(fs->access, QV_FS_PATHS);
    assert_int_equal(fs->read.count, 2);
    assert_string_equal(fs->read.items[0], "/app/data");
    assert_string_equal(fs->read.items[1], "/app/config");
    assert_int_equal(fs->write.count, 2);
    assert_string_equal(fs->write.items[0], "/app/logs");
    assert_string_equal(fs->write.items[1], "/app/data");
    assert_int_equal(fs->exclude.count, 2);
    assert_string_equal(fs->exclude.items[0], "/app/data/secrets");
    assert_string_equal(fs->exclude.items[1], "/app/config/keys.pem");
    const qv_net_permission *net = &m->permissions.net;
    assert_int_equal(net->access, QV_NET_RESTRICTED);
    assert_int_equal(net->allowed_hosts.count, 4);
    assert_string_equal(net->allowed_hosts.items[0], "api.example.com");
    assert_string_equal(net->allowed_hosts.items[1], "*.internal.example.com");
    assert_string_equal(net->allowed_hosts.items[2], "10.0.0.7");
    assert_string_equal(net->allowed_hosts.items[3], "::1");
    assert_int_equal(net->allowed_port_count, 2);
    assert_int_equal(net->allowed_ports[0], 443);
    assert_int_equal(net->allowed_ports[1], 8080);
    assert_false(net->outbound_only);
    assert_int_equal(m->fs.type, QV_FS_MEMFS);
    assert_null(m->fs.source);                   /* memfs starts empty */
    assert_null(m->fs.source_path);
    assert_string_equal(m->route, "/paths-app"); /* default: /<name> */
    assert_int_equal(m->timeout_ms, 90000);
    assert_int_equal(m->deploy.resources.memory_bytes, 512u << 20);
    assert_int_equal(m->deploy.resources.cpu_millicores, 250);
    /* health_check: {} turns the check on with every default. */
    assert_true(m->deploy.health_check.enabled);
    assert_string_equal(m->deploy.health_check.path, QV_MANIFEST_DEFAULT_HEALTH_PATH);
    assert_int_equal(m->deploy.health_check.interval_ms, QV_MANIFEST_DEFAULT_HEALTH_INTERVAL_MS);
    assert_int_equal(m->deploy.health_check.timeout_ms, QV_MANIFEST_DEFAULT_HEALTH_TIMEOUT_MS);
    assert_int_equal(m->deploy.health_check.retries, QV_MANIFEST_DEFAULT_HEALTH_RETRIES);
    qv_manifest_free(m);
}

static void flow_style_keeps_text_and_order(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/flow.qyv");
    assert_string_equal(m->entrypoint, "./bin/app.wasm");
    assert_string_equal(m->entrypoint_path, MANIFEST_FIXTURES "/valid/bin/app.wasm");
    /* Scalars in args and env are taken as written, whatever YAML would
     * resolve them to. */
    assert_int_equal(m->args.count, 4);
    assert_string_equal(m->args.items[1], "8080");
    assert_string_equal(m->args.items[2], "true");
    assert_string_equal(m->args.items[3], "");
    assert_int_equal(m->env.count, 3);
    assert_string_equal(m->env.vars[0].name, "Z_LAST");   /* file order, not sorted */
    assert_string_equal(m->env.vars[1].name, "A_FIRST");
    assert_string_equal(m->env.vars[1].value, "");
    assert_string_equal(m->env.vars[2].value, "true");
    assert_int_equal(m->permissions.fs.access, QV_FS_READ_WRITE);
    assert_int_equal(m->permissions.net.access, QV_NET_ANY);
    assert_int_equal(m->fs.type, QV_FS_DISKFS);
    assert_string_equal(m->fs.source, "data/./files/");
    assert_string_equal(m->fs.source_path, MANIFEST_FIXTURES "/valid/data/files");
    assert_int_equal(m->deploy.replicas, QV_MANIFEST_MAX_REPLICAS);
    assert_int_equal(m->deploy.resources.memory_bytes, 1u << 30);
    assert_int_equal(m->deploy.resources.cpu_millicores, 2000);
    assert_int_equal(m->cluster.algorithm, QV_LB_WEIGHTED);
    qv_manifest_free(m);
}

static void paths_follow_the_manifest_name(void **state)
{
    (void)state;
    static const char text[] = "name: web\nentrypoint: dist//web.wasm\ntype: http\n";
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_parse(text, strlen(text), "apps/web/app.qyv", &err);
    if (!m) fail_msg("%s", err.message);
    assert_string_equal(m->dir, "apps/web");
    assert_string_equal(m->entrypoint_path, "apps/web/dist/web.wasm");
    assert_string_equal(m->fs.source_path, "apps/web");
    assert_string_equal(m->route, "/web");
    qv_manifest_free(m);

    m = qv_manifest_parse(text, strlen(text), "/app.qyv", &err);
    if (!m) fail_msg("%s", err.message);
    assert_string_equal(m->entrypoint_path, "/dist/web.wasm");
    assert_string_equal(m->fs.source_path, "/");
    qv_manifest_free(m);

    m = qv_manifest_parse(text, strlen(text), NULL, NULL);   /* no name, no error struct */
    assert_non_null(m);
    assert_string_equal(m->file, "manifest");
    assert_string_equal(m->dir, ".");
    assert_string_equal(m->entrypoint_path, "dist/web.wasm");
    assert_string_equal(m->fs.source_path, ".");
    qv_manifest_free(m);
    qv_manifest_free(NULL);
}

static void enum_names_match_the_format(void **state)
{
    (void)state;
    assert_string_equal(qv_runtime_name(QV_RUNTIME_WASI), "wasi");
    assert_string_equal(qv_runtime_name(QV_RUNTIME_WASIP2), "wasip2");
    assert_string_equal(qv_app_type_name(QV_APP_HTTP), "http");
    assert_string_equal(qv_fs_access_name(QV_FS_READ_WRITE), "read-write");
    assert_string_equal(qv_fs_access_name(QV_FS_PATHS), "paths");
    assert_string_equal(qv_fs_type_name(QV_FS_MEMFS), "memfs");
    assert_string_equal(qv_lb_algorithm_name(QV_LB_LEAST_CONNECTIONS), "least_connections");
    assert_string_equal(qv_app_type_name((qv_app_type)7), "?");
}

/* ------------------------------------------------------------ the guide's manifests */

/* deploy.strategy, the mapping with every key; and the name alone. */
static void release_strategy_is_read(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/releases.qyv");
    const qv_strategy *s = &m->deploy.strategy;
    assert_true(s->present);
    assert_int_equal(s->type, QV_STRATEGY_CANARY);
    assert_int_equal(s->nsteps, 3);
    assert_int_equal(s->steps[1], 50);
    assert_true(s->pause_set);
    assert_false(s->manual);
    assert_int_equal(s->pause_ms, 120000);
    assert_true(s->surge_set && !s->surge_percent);
    assert_int_equal(s->max_surge, 2);
    assert_true(s->unavailable_set && s->unavailable_percent);
    assert_int_equal(s->max_unavailable, 10);
    assert_int_equal(s->keep_old_ms, 60000);
    assert_int_equal(s->progress_deadline_ms, 120000);
    assert_true(s->rollback_set && s->rollback_on_failure);
    assert_true(s->max_error_rate > 2.49 && s->max_error_rate < 2.51);
    assert_int_equal(s->max_latency_ms, 250);
    assert_int_equal(s->min_requests, 50);
    qv_manifest_free(m);
    static const char text[] = "name: web\nentrypoint: app.wasm\ndeploy:\n  strategy: blue_green\n";
    qv_manifest_error err;
    m = qv_manifest_parse(text, sizeof text - 1, "inline.qyv", &err);
    assert_non_null(m);
    assert_true(m->deploy.strategy.present);
    assert_int_equal(m->deploy.strategy.type, QV_STRATEGY_BLUE_GREEN);
    assert_false(m->deploy.strategy.surge_set);
    qv_manifest_free(m);
}

/* deploy.autoscale: every key read; without it autoscaling is off. */
static void autoscale_is_read(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/autoscale.qyv");
    const qv_autoscale *as = &m->deploy.autoscale;
    assert_true(as->enabled);
    assert_int_equal(as->min, 2);
    assert_int_equal(as->max, 10);
    assert_int_equal(as->cpu_threshold, 80);
    assert_int_equal(as->target_inflight, 4);
    assert_int_equal(as->window_ms, 120000);
    qv_manifest_free(m);
    m = load_fixture("valid/minimal.qyv");
    assert_false(m->deploy.autoscale.enabled);
    qv_manifest_free(m);
    /* min defaults to 1, the window to the master's. */
    const char text[] = "name: a\nentrypoint: a.wasm\ndeploy:\n  autoscale: {max: 3, target_inflight: 1}\n";
    qv_manifest_error err;
    m = qv_manifest_parse(text, sizeof text - 1, "inline.qyv", &err);
    assert_non_null(m);
    assert_int_equal(m->deploy.autoscale.min, 1);
    assert_int_equal(m->deploy.autoscale.window_ms, -1);
    qv_manifest_free(m);
}

static void guide_deploy_manifest_is_an_http_app(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/guide_deploy.qyv");
    assert_string_equal(m->name, "mi-aplicacion");
    assert_string_equal(m->entrypoint, "app.component.wasm");
    assert_string_equal(m->language, "rust");
    /* No type, but a health check: an http app with the default route. */
    assert_int_equal(m->type, QV_APP_HTTP);
    assert_string_equal(m->route, "/mi-aplicacion");
    assert_int_equal(m->permissions.fs.access, QV_FS_READ);
    assert_int_equal(m->permissions.net.access, QV_NET_ANY);
    assert_false(m->permissions.exec);
    assert_int_equal(m->deploy.replicas, 3);
    assert_int_equal(m->deploy.resources.memory_bytes, 128000000);
    assert_int_equal(m->deploy.resources.cpu_millicores, 500);
    assert_true(m->deploy.health_check.enabled);
    assert_string_equal(m->deploy.health_check.path, "/health");
    assert_int_equal(m->deploy.health_check.interval_ms, 30000);
    assert_int_equal(m->deploy.health_check.timeout_ms, QV_MANIFEST_DEFAULT_HEALTH_TIMEOUT_MS);
    assert_int_equal(m->deploy.health_check.retries, QV_MANIFEST_DEFAULT_HEALTH_RETRIES);
    assert_false(m->cluster.health_check.enabled);
    assert_int_equal(m->warning_count, 0);
    qv_manifest_free(m);
}

static void guide_load_balancer_checks_replicas(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/guide_load_balancer.qyv");
    assert_int_equal(m->type, QV_APP_CLI);      /* the balancer's check says nothing of the type */
    assert_int_equal(m->cluster.algorithm, QV_LB_LEAST_CONNECTIONS);
    const qv_health_check *lb = &m->cluster.health_check;
    assert_true(lb->enabled);
    assert_null(lb->path);                      /* the check is that the replica answers */
    assert_int_equal(lb->interval_ms, 10000);
    assert_int_equal(lb->timeout_ms, 5000);
    assert_int_equal(lb->retries, 3);
    assert_false(m->deploy.health_check.enabled);
    assert_int_equal(m->warning_count, 0);
    qv_manifest_free(m);
}

static void guide_net_permissions(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/guide_net.qyv");
    const qv_net_permission *net = &m->permissions.net;
    assert_int_equal(net->access, QV_NET_RESTRICTED);
    assert_int_equal(net->allowed_hosts.count, 2);
    assert_string_equal(net->allowed_hosts.items[0], "api.example.com");
    assert_string_equal(net->allowed_hosts.items[1], "db.example.com");
    assert_int_equal(net->allowed_port_count, 3);
    assert_int_equal(net->allowed_ports[0], 80);
    assert_int_equal(net->allowed_ports[1], 443);
    assert_int_equal(net->allowed_ports[2], 5432);
    assert_true(net->outbound_only);
    assert_int_equal(m->warning_count, 0);
    qv_manifest_free(m);
}

/* The guide's exclude lies outside every grant: it loads, with a warning
 * at the entry. */
static void guide_fs_permissions_warn_of_an_idle_exclude(void **state)
{
    (void)state;
    qv_manifest *m = load_fixture("valid/guide_fs.qyv");
    const qv_fs_permission *fs = &m->permissions.fs;
    assert_int_equal(fs->access, QV_FS_PATHS);
    assert_int_equal(fs->read.count, 2);
    assert_int_equal(fs->write.count, 2);
    assert_string_equal(fs->write.items[1], "/app/temp");
    assert_int_equal(fs->exclude.count, 1);
    assert_string_equal(fs->exclude.items[0], "/app/secrets");
    assert_int_equal(m->warning_count, 1);
    assert_int_equal(m->warnings[0].line, 9);
    assert_int_equal(m->warnings[0].column, 15);
    assert_string_equal(m->warnings[0].message,
                        MANIFEST_FIXTURES "/valid/guide_fs.qyv:9:15: warning: "
                        "'permissions.fs.exclude[0]' is '/app/secrets', which is not below any "
                        "path in 'read' or 'write': the guest cannot see it anyway, so this entry "
                        "changes nothing");
    qv_manifest_free(m);

    /* Only the entry outside the grants warns. */
    m = load_fixture("valid/fs_exclude_outside.qyv");
    assert_int_equal(m->warning_count, 1);
    assert_int_equal(m->warnings[0].line, 6);
    assert_int_equal(m->warnings[0].column, 34);
    assert_non_null(strstr(m->warnings[0].message, "'permissions.fs.exclude[1]' is '/app/secrets'"));
    qv_manifest_free(m);
}

static qv_manifest *parse_ok(const char *text)
{
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_parse(text, strlen(text), "t/app.qyv", &err);
    if (!m) fail_msg("should load: %s\n%s", err.message, text);
    return m;
}

#define BASE "name: a\nentrypoint: a.wasm\n"
#define HTTP BASE "type: http\n"

/* Without `type`, a route or deploy.health_check makes an http app. */
static void type_is_inferred_from_http_keys(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        qv_app_type type;
        const char *route;
    } cases[] = {
        {BASE, QV_APP_CLI, NULL},
        {BASE "route: /x\n", QV_APP_HTTP, "/x"},
        {BASE "deploy: {health_check: {}}\n", QV_APP_HTTP, "/a"},
        {BASE "deploy: {replicas: 2}\n", QV_APP_CLI, NULL},
        {BASE "cluster: {load_balancer: {health_check: {}}}\n", QV_APP_CLI, NULL},
        {BASE "type: http\n", QV_APP_HTTP, "/a"},
        {BASE "type: cli\n", QV_APP_CLI, NULL},
        {BASE "type: http\nroute: /\n", QV_APP_HTTP, "/"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        qv_manifest *m = parse_ok(cases[i].text);
        if (m->type != cases[i].type) fail_msg("case %zu: type %s", i, qv_app_type_name(m->type));
        if (cases[i].route) assert_string_equal(m->route, cases[i].route);
        else assert_null(m->route);
        qv_manifest_free(m);
    }
}

/* deploy.health_check takes the timing it does not write from the
 * balancer's check; what it writes wins. */
static void deploy_check_inherits_the_balancer_timing(void **state)
{
    (void)state;
    qv_manifest *m = parse_ok(BASE "deploy: {health_check: {path: /ok, retries: 5}}\n"
                              "cluster: {load_balancer: {health_check: {interval: 10s, timeout: 2s, retries: 2}}}\n");
    const qv_health_check *hc = &m->deploy.health_check;
    assert_int_equal(m->type, QV_APP_HTTP);
    assert_string_equal(hc->path, "/ok");
    assert_int_equal(hc->interval_ms, 10000);
    assert_int_equal(hc->timeout_ms, 2000);
    assert_int_equal(hc->retries, 5);
    qv_manifest_free(m);

    /* A written interval shorter than the balancer's timeout is fine when
     * deploy writes its own shorter timeout too. */
    m = parse_ok(BASE "deploy: {health_check: {interval: 1s, timeout: 500ms}}\n"
                 "cluster: {load_balancer: {health_check: {interval: 1m, timeout: 30s}}}\n");
    assert_int_equal(m->deploy.health_check.interval_ms, 1000);
    assert_int_equal(m->deploy.health_check.timeout_ms, 500);
    assert_int_equal(m->deploy.health_check.retries, QV_MANIFEST_DEFAULT_HEALTH_RETRIES);
    assert_int_equal(m->cluster.health_check.interval_ms, 60000);
    qv_manifest_free(m);

    /* Without the balancer's check, the documented defaults. */
    m = parse_ok(BASE "deploy: {health_check: {interval: 10s}}\n");
    assert_int_equal(m->deploy.health_check.timeout_ms, QV_MANIFEST_DEFAULT_HEALTH_TIMEOUT_MS);
    assert_false(m->cluster.health_check.enabled);
    assert_int_equal(m->cluster.health_check.interval_ms, QV_MANIFEST_DEFAULT_HEALTH_INTERVAL_MS);
    qv_manifest_free(m);
}

/* Warnings are kept up to the cap, the last slot then counting the rest;
 * a manifest refused after a warning frees everything (ASan run). */
static void warnings_are_capped_and_counted(void **state)
{
    (void)state;
    char text[2048];
    int used = snprintf(text, sizeof text, BASE "permissions:\n  fs:\n    read: [/app/data]\n"
                                                     "    exclude:\n");
    const size_t n = QV_MANIFEST_MAX_WARNINGS + 5;
    for (size_t i = 0; i < n; i++)
        used += snprintf(text + used, sizeof text - (size_t)used, "      - /app/other%zu\n", i);
    qv_manifest *m = parse_ok(text);
    assert_int_equal(m->warning_count, QV_MANIFEST_MAX_WARNINGS);
    for (size_t i = 0; i + 1 < QV_MANIFEST_MAX_WARNINGS; i++) {
        char expected[300];
        snprintf(expected, sizeof expected, "t/app.qyv:%zu:9: warning: 'permissions.fs.exclude[%zu]' is "
                 "'/app/other%zu', which is not below any path", 7 + i, i, i);
        if (strncmp(m->warnings[i].message, expected, strlen(expected)) != 0)
            fail_msg("warning %zu: %s", i, m->warnings[i].message);
        assert_int_equal(m->warnings[i].line, 7 + i);
        assert_int_equal(m->warnings[i].column, 9);
    }
    const qv_manifest_warning *last = &m->warnings[QV_MANIFEST_MAX_WARNINGS - 1];
    char expected[200];
    snprintf(expected, sizeof expected,
             "t/app.qyv:%u:9: warning: 6 more warnings from here on are not shown (at most %u are kept)",
             7 + QV_MANIFEST_MAX_WARNINGS - 1, QV_MANIFEST_MAX_WARNINGS);
    assert_string_equal(last->message, expected);
    assert_int_equal(last->line, 7 + QV_MANIFEST_MAX_WARNINGS - 1);
    qv_manifest_free(m);

    /* A mistake after a warning: refused, with the mistake. */
    static const char later[] = BASE "permissions: {fs: {read: [/app/a], exclude: [/app/b]}}\n"
                                          "timeout: 0s\n";
    qv_manifest_error err;
    assert_null(qv_manifest_parse(later, strlen(later), "t/app.qyv", &err));
    assert_string_equal(err.message, "t/app.qyv:4:10: 'timeout' must be longer than 0");

    /* Exactly at the cap: every warning is its own. */
    used = snprintf(text, sizeof text, BASE "permissions: {fs: {read: [/app/data], exclude: [");
    for (size_t i = 0; i < QV_MANIFEST_MAX_WARNINGS; i++)
        used += snprintf(text + used, sizeof text - (size_t)used, "%s/app/x%zu", i ? ", " : "", i);
    snprintf(text + used, sizeof text - (size_t)used, "]}}\n");
    m = parse_ok(text);
    assert_int_equal(m->warning_count, QV_MANIFEST_MAX_WARNINGS);
    assert_null(strstr(m->warnings[QV_MANIFEST_MAX_WARNINGS - 1].message, "more warnings"));
    qv_manifest_free(m);
}

/* ------------------------------------------------------------ malformed manifests */

typedef struct bad_fixture {
    const char *file;       /* under fixtures/bad/ */
    const char *expected;   /* the message after "PATH:" */
} bad_fixture;

static const bad_fixture bad_fixtures[] = {
    {"unknown_key_typo.qyv", "3:1: unknown key 'enviroment'; did you mean 'env'?"},
    {"unknown_key_nested.qyv", "4:3: unknown key 'replica' in 'deploy'; did you mean 'replicas'?"},
    {"key_in_wrong_section.qyv", "3:1: unknown key 'replicas'; it belongs in 'deploy'"},
    {"unknown_key_no_match.qyv",
     "5:3: unknown key 'zone' in 'deploy'; expected one of: replicas, resources, health_check, strategy, autoscale"},
    {"strategy_steps_end_short.qyv",
     "7:21: 'deploy.strategy.steps[2]' is the last step and must be 100: a canary ends with all the traffic"},
    {"strategy_type_misspelt.qyv",
     "5:13: 'deploy.strategy' must be rolling, blue_green or canary, got 'bluegreen'; did you mean 'blue_green'?"},
    {"strategy_surge_over_100.qyv",
     "6:16: 'deploy.strategy.max_surge' must be a count (0 to 10000) or a percentage such as 25%"},
    {"strategy_error_rate_bare.qyv",
     "7:21: 'deploy.strategy.max_error_rate' must be a percentage of failed (5xx) answers such as 5%"},
    {"autoscale_min_over_max.qyv", "5:10: 'deploy.autoscale.min' is 5, more than max (2)"},
    {"autoscale_no_target.qyv",
     "5:5: 'deploy.autoscale' needs a target: 'cpu_threshold' (percent of the CPU asked for) or "
     "'target_inflight' (requests in flight per replica), or both"},
    {"autoscale_no_max.qyv", "5:5: 'deploy.autoscale' needs 'max', the most replicas it may run"},
    {"autoscale_cpu_over_100.qyv", "7:20: 'deploy.autoscale.cpu_threshold' must be between 1 and 100, got 150"},
    {"autoscale_typo.qyv", "7:5: unknown key 'target_in_flight' in 'deploy.autoscale'; did you mean 'target_inflight'?"},
    {"key_wrong_case.qyv", "1:1: unknown key 'Name'; did you mean 'name'?"},
    {"merge_key.qyv", "4:3: YAML merge keys ('<<') are not supported; write the keys out"},
    {"duplicate_key.qyv", "4:1: duplicate key 'name'; it is already set at line 1, column 1"},
    {"missing_name.qyv", "2:1: missing required key 'name' (the app's name, e.g. name: my-app)"},
    {"missing_entrypoint.qyv",
     "1:1: missing required key 'entrypoint' (the .wasm file to run, e.g. entrypoint: app.wasm)"},
    {"empty.qyv", "1:1: the manifest is empty; expected keys such as 'name:' and 'entrypoint:'"},
    {"root_is_list.qyv",
     "1:1: the manifest must be a map of keys such as 'name:' and 'entrypoint:', not a list"},
    {"section_not_map.qyv", "3:14: 'permissions' must be a map of keys, not a string"},
    {"null_value.qyv", "3:10: 'language' has no value; expected a string"},
    {"two_documents.qyv", "3:1: a manifest holds one YAML document, but a second one starts here"},
    {"utf16.qyv", "1:1: the manifest is UTF-16 text (it starts with a byte order mark); a manifest must be UTF-8"},
    {"nesting_too_deep.qyv", "4:38: lists and maps nested more than 32 deep; a manifest needs 4 levels at most"},
    {"explicit_tag.qyv",
     "4:13: YAML tags such as '!!int' are not supported; write the value without one"},
    {"yaml_unclosed_quote.qyv",
     "4:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line "
     "2, column 13)"},
    {"yaml_bad_indent.qyv",
     "5:13: invalid YAML: mapping values are not allowed in this context; check the indentation, "
     "or quote a value that contains ': '"},
    {"yaml_tab.qyv",
     "4:1: invalid YAML: found character that cannot start any token (while scanning for the "
     "next token at line 4, column 1); YAML does not allow tabs for indentation"},
    {"invalid_utf8.qyv",
     "3:14: invalid YAML: incomplete UTF-8 octet sequence; a manifest must be UTF-8 text"},
    {"undefined_alias.qyv",
     "2:13: invalid YAML: found undefined alias; an alias (*name) must follow its anchor (&name)"},
    {"name_invalid.qyv",
     "1:7: 'name' may contain only lowercase letters, digits and '-' (it is used as a DNS label), "
     "got 'My_App'"},
    {"entrypoint_not_wasm.qyv", "2:13: 'entrypoint' must name a .wasm file, got 'app.wat'"},
    {"entrypoint_absolute.qyv",
     "2:13: 'entrypoint' must be a path relative to the manifest's folder, got the absolute path "
     "'/opt/apps/app.wasm'"},
    {"entrypoint_escapes.qyv",
     "2:13: 'entrypoint' must stay inside the manifest's folder; '..' is not allowed, got "
     "'../shared/app.wasm'"},
    {"runtime_unknown.qyv", "3:10: 'runtime' must be wasi, wasip1 or wasip2, got 'docker'"},
    {"type_misspelt.qyv", "3:7: 'type' must be cli or http, got 'htpp'; did you mean 'http'?"},
    {"args_not_list.qyv", "3:7: 'args' must be a list, not a string"},
    {"env_list.qyv", "4:3: 'env' must be a map of NAME: value, not a list"},
    {"env_invalid_name.qyv",
     "5:3: 'env' has an invalid variable name 'LOG-FORMAT'; use letters, digits and '_', not "
     "starting with a digit"},
    {"env_duplicate.qyv",
     "3:19: duplicate variable 'A' in 'env'; it is already set at line 3, column 7"},
    {"route_no_slash.qyv", "4:8: 'route' must start with '/', got 'my-app'"},
    {"route_on_cli_app.qyv",
     "4:8: 'route' applies only to http apps, but this app says 'type: cli'; write 'type: http' "
     "or remove 'route'"},
    {"duration_bare_number.qyv",
     "3:10: 'timeout' has an invalid duration '30': every number needs a unit: ms, s, m or h "
     "(e.g. 30s)"},
    {"timeout_zero.qyv", "3:10: 'timeout' must be longer than 0"},
    {"exec_true.qyv",
     "4:9: 'permissions.exec: true' cannot be granted: WASI has no way to start a process, so a "
     "WebAssembly app cannot run other programs; remove it or write 'exec: false'"},
    {"fs_access_unknown.qyv",
     "4:7: 'permissions.fs' must be none, read, write or read-write, got 'read_write'; did you "
     "mean 'read-write'?"},
    {"fs_path_dotdot.qyv",
     "5:25: 'permissions.fs.read[1]' must not contain '.' or '..' components, got '/app/../etc'"},
    {"fs_path_outside_app.qyv",
     "6:9: 'permissions.fs.write[0]' must be /app or a path under it (the guest sees the app's "
     "folder at /app), got '/etc'"},
    {"fs_exclude_whole_grant.qyv",
     "6:32: 'permissions.fs.exclude[1]' is '/app/logs', which 'permissions.fs.read' grants; "
     "exclude hides paths strictly inside a granted one, so to hide '/app/logs' remove it from "
     "'read'"},
    {"net_yes.qyv", "4:8: 'permissions.net' must be true or false, got 'yes'"},
    {"net_host_url.qyv",
     "5:21: 'permissions.net.allowed_hosts[0]' must be a host name, not a URL, got "
     "'https://api.example.com'"},
    {"net_empty_hosts.qyv",
     "5:20: 'permissions.net.allowed_hosts' is an empty list; it would allow no host; write "
     "'net: false' to deny the network"},
    {"net_port_out_of_range.qyv",
     "4:31: 'permissions.net.allowed_ports[1]' must be between 1 and 65535, got 70000"},
    {"fs_type_unknown.qyv", "4:9: 'fs.type' must be diskfs or memfs, got 'tmpfs'"},
    {"fs_source_absolute.qyv",
     "5:11: 'fs.source' must be a path relative to the manifest's folder, got the absolute path "
     "'/var/data'"},
    {"replicas_not_integer.qyv", "4:13: 'deploy.replicas' must be an integer, got 'three'"},
    {"replicas_quoted.qyv", "3:21: 'deploy.replicas' must be an integer; remove the quotes around '3'"},
    {"replicas_zero.qyv", "4:13: 'deploy.replicas' must be between 1 and 10000, got 0"},
    {"replicas_octal.qyv", "4:13: 'deploy.replicas' must be written without leading zeros, got '010'"},
    {"size_unknown_unit.qyv",
     "5:13: 'deploy.resources.memory' has an invalid size '128m': unknown unit 'm'; " SIZE_UNITS},
    {"size_negative.qyv",
     "4:24: 'deploy.resources.memory' has an invalid size '-1GiB': it cannot be negative"},
    {"memory_too_small.qyv",
     "5:13: 'deploy.resources.memory' must be at least 64KiB, the size of one WebAssembly memory "
     "page"},
    {"cpu_zero.qyv",
     "5:10: 'deploy.resources.cpu' has an invalid CPU amount '0': it must be more than 0"},
    {"health_timeout_too_long.qyv",
     "7:14: 'deploy.health_check.timeout' (15s) must not be longer than "
     "'deploy.health_check.interval' (10s)"},
    {"health_check_on_cli_app.qyv",
     "6:17: 'deploy.health_check' applies only to http apps, but this app says 'type: cli'; "
     "write 'type: http' or remove 'deploy.health_check'"},
    {"health_timeout_beyond_balancer_interval.qyv",
     "7:14: 'deploy.health_check.timeout' (20s) must not be longer than "
     "'deploy.health_check.interval' (10s, from 'cluster.load_balancer.health_check.interval')"},
    {"algorithm_misspelt.qyv",
     "5:16: 'cluster.load_balancer.algorithm' must be round_robin, least_connections or weighted, "
     "got 'least_connection'; did you mean 'least_connections'?"},
};

static void check_bad_fixture(void **state)
{
    const bad_fixture *f = *state;
    char path[512], expected[1024];
    snprintf(path, sizeof path, "%s/bad/%s", MANIFEST_FIXTURES, f->file);
    snprintf(expected, sizeof expected, "%s:%s", path, f->expected);
    qv_manifest_error err;
    memset(&err, 0xAA, sizeof err);
    qv_manifest *m = qv_manifest_load(path, &err);
    if (m) {
        qv_manifest_free(m);
        fail_msg("%s was accepted", path);
    }
    assert_string_equal(err.message, expected);
    /* The numeric position agrees with the one in the text. */
    unsigned line, column;
    assert_int_equal(sscanf(f->expected, "%u:%u:", &line, &column), 2);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
}

/* Every fixture in bad/ is in the table, and the table is not trivially
 * small. */
static void every_bad_fixture_is_checked(void **state)
{
    (void)state;
    DIR *dir = opendir(MANIFEST_FIXTURES "/bad");
    if (!dir) fail_msg("cannot open %s/bad (run from the repository root)", MANIFEST_FIXTURES);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (e->d_name[0] == '.') continue;
        files++;
        bool listed = false;
        for (size_t i = 0; i < COUNT(bad_fixtures) && !listed; i++)
            listed = strcmp(bad_fixtures[i].file, e->d_name) == 0;
        if (!listed) {
            closedir(dir);
            fail_msg("fixtures/bad/%s has no expected message in bad_fixtures[]", e->d_name);
        }
    }
    closedir(dir);
    assert_int_equal(files, COUNT(bad_fixtures));
    assert_true(files >= 20);
}

/* ------------------------------------------------------------ inline cases */

/* Mistakes easier to show as a string than as a file (NUL bytes, long
 * values: quoted text is cut at 40 characters, control characters
 * escaped), and the remaining rules. The name "t/app.qyv" prefixes each
 * expected message. */
typedef struct inline_case {
    const char *text;
    size_t len;             /* 0: strlen(text) */
    const char *expected;
} inline_case;

static const inline_case inline_cases[] = {
    {"name: \"a\\0b\"\nentrypoint: a.wasm\n", 0, "1:7: 'name' contains a NUL character"},
    {"name: a\0b\nentrypoint: a.wasm\n", 30,
     "1:8: the manifest holds a NUL byte (UTF-16 or UTF-32 text, or not text at all); a manifest must be UTF-8"},
    /* A NUL byte used to end libyaml's reading silently: what follows it
     * must not be lost. */
    {BASE "\0exec: true\n", sizeof BASE + 11,
     "3:1: the manifest holds a NUL byte (UTF-16 or UTF-32 text, or not text at all); a manifest must be UTF-8"},
    {"\xff\xfen\0a\0m\0e\0", 10,
     "1:1: the manifest is UTF-16 text (it starts with a byte order mark); a manifest must be UTF-8"},
    {"\xfe\xff\0n\0a\0m\0e", 10,
     "1:1: the manifest is UTF-16 text (it starts with a byte order mark); a manifest must be UTF-8"},
    {"\xff\xfe\0\0n\0\0\0", 8,
     "1:1: the manifest is UTF-32 text (it starts with a byte order mark); a manifest must be UTF-8"},
    {"n\0a\0m\0e\0:\0 \0a\0", 14,
     "1:2: the manifest holds a NUL byte (UTF-16 or UTF-32 text, or not text at all); a manifest must be UTF-8"},
    /* Long runs of blanks make libyaml slow: bounded. */
    {BASE "language: \"a                                                                                           "
          "                                                                                                       "
          "                                                                 b\"\n", 0,
     "3:269: more than 256 spaces or tabs in a row"},
    /* Nesting and anchors are bounded before libyaml loads it all. */
    {BASE "args: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", 0,
     "3:38: lists and maps nested more than 32 deep; a manifest needs 4 levels at most"},
    {BASE "env: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: "
          "{a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}\n", 0,
     "3:130: lists and maps nested more than 32 deep; a manifest needs 4 levels at most"},
    {BASE "language: \"\"\n", 0,
     "3:11: 'language' is empty; name the source language (e.g. rust) or remove the key"},
    {BASE "language: [c]\n", 0, "3:11: 'language' must be a string, not a list"},
    {BASE "language: {a: b}\n", 0, "3:11: 'language' must be a string, not a map"},
    {"name: a123456789b123456789c123456789d123456789e123456789f123456789ghij\nentrypoint: a.wasm\n", 0,
     "1:7: 'name' is 64 characters long; at most 63 are allowed"},
    {"name: -app\nentrypoint: a.wasm\n", 0,
     "1:7: 'name' must start and end with a letter or digit, got '-app'"},
    {"name: \"\"\nentrypoint: a.wasm\n", 0, "1:7: 'name' is empty; expected a name such as my-app"},
    {"name: a\nentrypoint: \"x\\ty\\n\\u00e9" "0123456789012345678901234567890123456789\"\n", 0,
     "2:13: 'entrypoint' must name a .wasm file, got 'x\\x09y\\né01234567890123456789012345678901234...'"},
    {"name: a\nentrypoint: ~/app.wasm\n", 0,
     "2:13: 'entrypoint' must be a path relative to the manifest's folder; '~' is not expanded, "
     "got '~/app.wasm'"},
    {"name: a\nentrypoint: dir/.wasm\n", 0, "2:13: 'entrypoint' must name a .wasm file, got 'dir/.wasm'"},
    {"name: a\nentrypoint: \"\"\n", 0,
     "2:13: 'entrypoint' is empty; expected a path relative to the manifest's folder"},
    {HTTP "route: /a//b\n", 0, "4:8: 'route' has an empty segment ('//'), got '/a//b'"},
    {HTTP "route: /a/./b\n", 0, "4:8: 'route' must not contain '.' or '..' segments, got '/a/./b'"},
    {HTTP "route: /a/\n", 0, "4:8: 'route' must not end with '/', got '/a/'"},
    {HTTP "route: /a?b=1\n", 0,
     "4:8: 'route' may contain only letters, digits, '-', '.', '_', '~' and '/', got '/a?b=1'"},
    {HTTP "deploy: {health_check: {path: health}}\n", 0,
     "4:31: 'deploy.health_check.path' must start with '/', got 'health'"},
    {HTTP "deploy: {health_check: {interval: 2s}}\n", 0,
     "4:35: 'deploy.health_check.timeout' (5s) must not be longer than "
     "'deploy.health_check.interval' (2s)"},
    {HTTP "deploy: {health_check: {retries: 101}}\n", 0,
     "4:34: 'deploy.health_check.retries' must be between 1 and 100, got 101"},
    {HTTP "deploy: {health_check: {interval: 0ms}}\n", 0,
     "4:35: 'deploy.health_check.interval' must be longer than 0"},
    {BASE "deploy: {replicas: 99999999999999999999999}\n", 0,
     "3:20: 'deploy.replicas' must be between 1 and 10000, got 99999999999999999999999"},
    {BASE "deploy: {replicas: -2}\n", 0, "3:20: 'deploy.replicas' must be between 1 and 10000, got -2"},
    {BASE "deploy: {replicas: 2.0}\n", 0, "3:20: 'deploy.replicas' must be an integer, got '2.0'"},
    {BASE "deploy: {replicas: [2]}\n", 0, "3:20: 'deploy.replicas' must be an integer, not a list"},
    {BASE "deploy: {replicas: }\n", 0, "3:20: 'deploy.replicas' has no value; expected an integer"},
    {BASE "deploy: {resources: {memory: 1.5B}}\n", 0,
     "3:30: 'deploy.resources.memory' has an invalid size '1.5B': it is not a whole number of bytes"},
    {BASE "deploy: {resources: {cpu: 2cores}}\n", 0,
     "3:27: 'deploy.resources.cpu' has an invalid CPU amount '2cores': unknown unit 'cores'; "
     CPU_UNITS},
    {BASE "deploy: {resources: {memory: ~}}\n", 0,
     "3:30: 'deploy.resources.memory' has no value; expected a size such as 128MiB"},
    {BASE "deploy: {resources: {cpus: 1}}\n", 0,
     "3:22: unknown key 'cpus' in 'deploy.resources'; did you mean 'cpu'?"},
    {BASE "deploy: {healthcheck: {}}\n", 0,
     "3:10: unknown key 'healthcheck' in 'deploy'; did you mean 'health_check'?"},
    {BASE "type: cli\nroute: /a\n", 0,
     "4:8: 'route' applies only to http apps, but this app says 'type: cli'; write 'type: http' "
     "or remove 'route'"},
    {BASE "cluster: {load_balancer: {health_check: {path: /health}}}\n", 0,
     "3:42: unknown key 'path' in 'cluster.load_balancer.health_check'; it belongs in "
     "'deploy.health_check'"},
    {BASE "cluster: {load_balancer: {health_check: {interval: 2s}}}\n", 0,
     "3:52: 'cluster.load_balancer.health_check.timeout' (5s) must not be longer than "
     "'cluster.load_balancer.health_check.interval' (2s)"},
    {BASE "cluster: {load_balancer: {health_check: {interval: 1s, timeout: 1500ms}}}\n", 0,
     "3:65: 'cluster.load_balancer.health_check.timeout' (1500ms) must not be longer than "
     "'cluster.load_balancer.health_check.interval' (1s)"},
    {BASE "cluster: {load_balancer: {health_check: {retries: 0}}}\n", 0,
     "3:51: 'cluster.load_balancer.health_check.retries' must be between 1 and 100, got 0"},
    {BASE "cluster: {load_balancer: {health_check: {interval: 10}}}\n", 0,
     "3:52: 'cluster.load_balancer.health_check.interval' has an invalid duration '10': every "
     "number needs a unit: ms, s, m or h (e.g. 30s)"},
    {BASE "cluster: {load_balancer: {health_check: {timeout: 0s}}}\n", 0,
     "3:51: 'cluster.load_balancer.health_check.timeout' must be longer than 0"},
    {BASE "cluster: {load_balancer: {health_check: ~}}\n", 0,
     "3:41: 'cluster.load_balancer.health_check' has no value; expected a map of keys"},
    {BASE "cluster: {load_balancer: {healthcheck: {}}}\n", 0,
     "3:27: unknown key 'healthcheck' in 'cluster.load_balancer'; did you mean 'health_check'?"},
    {BASE "cluster: {health_check: {}}\n", 0,
     "3:11: unknown key 'health_check' in 'cluster'; it belongs in 'deploy' or in "
     "'cluster.load_balancer'"},
    {BASE "interval: 10s\n", 0,
     "3:1: unknown key 'interval'; it belongs in 'deploy.health_check' or in "
     "'cluster.load_balancer.health_check'"},
    {HTTP "deploy: {health_check: {interval: 3s}}\n"
          "cluster: {load_balancer: {health_check: {interval: 10s, timeout: 4s}}}\n", 0,
     "4:35: 'deploy.health_check.timeout' (4s, from 'cluster.load_balancer.health_check.timeout') "
     "must not be longer than 'deploy.health_check.interval' (3s)"},
    {BASE "timeout: 5 s\n", 0,
     "3:10: 'timeout' has an invalid duration '5 s': no space is allowed inside the value"},
    {BASE "environment: {}\n", 0, "3:1: unknown key 'environment'; did you mean 'env'?"},
    {BASE "algorithm: weighted\n", 0, "3:1: unknown key 'algorithm'; it belongs in 'cluster.load_balancer'"},
    {BASE "deploy: {name: x}\n", 0, "3:10: unknown key 'name' in 'deploy'; it belongs at the top level"},
    {BASE "? [a]\n: b\n", 0, "3:3: a key must be a string, not a list"},
    {BASE "env: {A: [1]}\n", 0, "3:10: 'env.A' must be a string, not a list"},
    /* libyaml places an empty value where its node ends. */
    {BASE "env: {A: }\n", 0, "3:10: 'env.A' has no value; expected a string"},
    {BASE "env: {1A: x}\n", 0,
     "3:7: 'env' has an invalid variable name '1A'; use letters, digits and '_', not starting "
     "with a digit"},
    {BASE "env:\n", 0, "3:5: 'env' has no value; expected a map of NAME: value"},
    {BASE "env: {~: x}\n", 0, "3:7: a variable name in 'env' must be a string, not nothing"},
    {BASE "env: {[A]: x}\n", 0, "3:7: a variable name in 'env' must be a string, not a list"},
    {BASE "args: [a, {b: c}]\n", 0, "3:11: 'args[1]' must be a string, not a map"},
    {BASE "args: [a, ~]\n", 0, "3:11: 'args[1]' has no value; expected a string"},
    {BASE "args:\n", 0, "3:6: 'args' has no value; expected a list"},
    {BASE "permissions: {exec: \"false\"}\n", 0,
     "3:21: 'permissions.exec' must be true or false; remove the quotes around 'false'"},
    {BASE "permissions: {exec: TRUE}\n", 0,
     "3:21: 'permissions.exec: true' cannot be granted: WASI has no way to start a process, so a "
     "WebAssembly app cannot run other programs; remove it or write 'exec: false'"},
    {BASE "permissions: {fs: [read]}\n", 0,
     "3:19: 'permissions.fs' must be none, read, write, read-write or a map of 'read', 'write' "
     "and 'exclude' paths, not a list"},
    {BASE "permissions: {fs: {read: [/app/]}}\n", 0,
     "3:27: 'permissions.fs.read[0]' must not end with '/', got '/app/'"},
    {BASE "permissions: {fs: {read: [app/data]}}\n", 0,
     "3:27: 'permissions.fs.read[0]' must be an absolute guest path such as /app/data, got "
     "'app/data'"},
    {BASE "permissions: {fs: {read: [/application]}}\n", 0,
     "3:27: 'permissions.fs.read[0]' must be /app or a path under it (the guest sees the app's "
     "folder at /app), got '/application'"},
    {BASE "permissions: {fs: {read: [/app], exclude: [/app]}}\n", 0,
     "3:44: 'permissions.fs.exclude[0]' is '/app', which 'permissions.fs.read' grants; exclude "
     "hides paths strictly inside a granted one, so to hide '/app' remove it from 'read'"},
    {BASE "permissions: {fs: {write: [/app/a/b], exclude: [/app/a]}}\n", 0,
     "3:49: 'permissions.fs.exclude[0]' is '/app/a', which holds '/app/a/b' granted by "
     "'permissions.fs.write'; exclude hides paths strictly inside a granted one, so to hide "
     "'/app/a/b' remove it from 'write'"},
    {BASE "permissions: {fs: {readonly: [/app]}}\n", 0,
     "3:20: unknown key 'readonly' in 'permissions.fs'; did you mean 'read'?"},
    {BASE "permissions: {net: {allowed_hosts: [\"db.local:5432\"]}}\n", 0,
     "3:37: 'permissions.net.allowed_hosts[0]' must be a host without a port (list ports in "
     "'permissions.net.allowed_ports'), got 'db.local:5432'"},
    {BASE "permissions: {net: {allowed_hosts: [\"-bad-.com\"]}}\n", 0,
     "3:37: 'permissions.net.allowed_hosts[0]' must be a host name (api.example.com), a wildcard "
     "(*.example.com) or an IP address, got '-bad-.com'"},
    {BASE "permissions: {net: {allowed_hosts: [\"*\"]}}\n", 0,
     "3:37: 'permissions.net.allowed_hosts[0]' must be a host name (api.example.com), a wildcard "
     "(*.example.com) or an IP address, got '*'"},
    {BASE "permissions: {net: {allowed_ports: []}}\n", 0,
     "3:36: 'permissions.net.allowed_ports' is an empty list; it would allow no port; write 'net: "
     "false' to deny the network"},
    {BASE "permissions: {net: {allowed_ports: [\"443\"]}}\n", 0,
     "3:37: 'permissions.net.allowed_ports[0]' must be an integer; remove the quotes around '443'"},
    {BASE "permissions: {net: {allowed_ports: 443}}\n", 0,
     "3:36: 'permissions.net.allowed_ports' must be a list of ports, not a string"},
    {BASE "permissions: {net: {outbound_only: on}}\n", 0,
     "3:36: 'permissions.net.outbound_only' must be true or false, got 'on'"},
    {BASE "fs: {source: ../data}\n", 0,
     "3:14: 'fs.source' must stay inside the manifest's folder; '..' is not allowed, got '../data'"},
    {BASE "type: HTTP\n", 0, "3:7: 'type' must be cli or http, got 'HTTP'; did you mean 'http'?"},
    {BASE "type: grpc\n", 0, "3:7: 'type' must be cli or http, got 'grpc'"},
    {BASE "type: !custom http\n", 0,
     "3:7: YAML tags such as '!custom' are not supported; write the value without one"},
    {BASE "runtime:\n", 0, "3:9: 'runtime' has no value; expected wasi, wasip1 or wasip2"},
    {"# comment\n---\n", 0, "2:1: the manifest is empty; expected keys such as 'name:' and 'entrypoint:'"},
    {"", 0, "1:1: the manifest is empty; expected keys such as 'name:' and 'entrypoint:'"},
    {"just text\n", 0,
     "1:1: the manifest must be a map of keys such as 'name:' and 'entrypoint:', not a string"},
    /* Secrets (docs/manifest.md, "Secrets"). */
    {BASE "env: {A: {secret: Db}}\n", 0,
     "3:19: 'env.A.secret' may contain only lowercase letters, digits and '-' (it is used as a DNS label), got 'Db'"},
    {BASE "env: {A: {secrte: db}}\n", 0,
     "3:11: unknown key 'secrte' in 'env.A'; did you mean 'secret'?"},
    {BASE "env: {A: {}}\n", 0,
     "3:10: 'env.A' must be a string, or {secret: NAME} to take the value of a cluster secret"},
    {BASE "env: {A: [db]}\n", 0,
     "3:10: 'env.A' must be a string, not a list"},
    {BASE "secrets: {name: db}\n", 0,
     "3:10: 'secrets' must be a list of {name: SECRET, path: /secrets/FILE}, not a map"},
    {BASE "secrets: [db]\n", 0,
     "3:11: 'secrets[0]' must be {name: SECRET, path: /secrets/FILE}, not a string"},
    {BASE "secrets: [{name: db}]\n", 0,
     "3:11: 'secrets[0]' needs both 'name' (the secret) and 'path' (its file in the guest, e.g. /secrets/db)"},
    {BASE "secrets: [{name: db, path: secrets/db}]\n", 0,
     "3:28: 'secrets[0].path' must start with '/', got 'secrets/db'"},
    {BASE "secrets: [{name: db, path: /db}]\n", 0,
     "3:28: 'secrets[0].path' must name a file in a folder, e.g. /secrets/db (the folder is given to the guest read-only), got '/db'"},
    {BASE "secrets: [{name: db, path: /app/db}]\n", 0,
     "3:28: 'secrets[0].path' must be outside /app (the app's folder), e.g. /secrets/db, got '/app/db'"},
    {BASE "secrets: [{name: db, path: /s/../db}]\n", 0,
     "3:28: 'secrets[0].path' must not contain '.' or '..' segments, got '/s/../db'"},
    {BASE "secrets: [{name: db, path: /s/db}, {name: x, path: /s/db}]\n", 0,
     "3:36: 'secrets[1]': the path /s/db clashes with /s/db (line 3, column 28)"},
    {BASE "secrets: [{name: db, path: /s/db}, {name: x, path: /s/db/x}]\n", 0,
     "3:36: 'secrets[1]': the path /s/db/x clashes with /s/db (line 3, column 28)"},
    {BASE "secrets: [{name: db, path: /s/db, mode: 0400}]\n", 0,
     "3:35: unknown key 'mode' in 'secrets[0]'; expected one of: name, path"},
};

/* Env values and files from the cluster's secrets: names and paths kept,
 * with where they are written. */
static void secrets_are_read_by_name(void **state)
{
    (void)state;
    static const char text[] = BASE "env:\n  PLAIN: x\n  DB_PASSWORD: {secret: db}\n"
                               "secrets:\n  - {name: tls-key, path: /secrets/tls/key.pem}\n"
                               "  - name: tls-cert\n    path: /secrets/tls/cert.pem\n";
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_parse(text, sizeof text - 1, "t/app.qyv", &err);
    if (!m) fail_msg("%s", err.message);
    assert_true(qv_manifest_uses_secrets(m));
    assert_int_equal(m->env.count, 2);
    assert_string_equal(m->env.vars[0].value, "x");
    assert_null(m->env.vars[0].secret);
    assert_null(m->env.vars[1].value);
    assert_string_equal(m->env.vars[1].secret, "db");
    assert_int_equal(m->env.vars[1].at.line, 5);
    assert_int_equal(m->env.vars[1].at.column, 16);
    assert_int_equal(m->secret_file_count, 2);
    assert_string_equal(m->secret_files[0].name, "tls-key");
    assert_string_equal(m->secret_files[0].path, "/secrets/tls/key.pem");
    assert_string_equal(m->secret_files[1].name, "tls-cert");
    assert_int_equal(m->secret_files[1].at.line, 9);
    qv_manifest_free(m);
    static const char plain[] = BASE "env: {A: b}\n";
    m = qv_manifest_parse(plain, sizeof plain - 1, "t/app.qyv", &err);
    assert_non_null(m);
    assert_false(qv_manifest_uses_secrets(m));
    qv_manifest_free(m);
}

static void inline_mistakes_are_reported(void **state)
{
    (void)state;
    size_t wrong = 0;
    for (size_t i = 0; i < COUNT(inline_cases); i++) {
        const inline_case *c = &inline_cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        char expected[1024];
        snprintf(expected, sizeof expected, "t/app.qyv:%s", c->expected);
        qv_manifest_error err;
        qv_manifest *m = qv_manifest_parse(c->text, len, "t/app.qyv", &err);
        if (m) {
            qv_manifest_free(m);
            print_error("case %zu was accepted:\n%s\n", i, c->text);
            wrong++;
        } else if (strcmp(err.message, expected) != 0) {
            print_error("case %zu:\n%s\ngave      %s\nexpected  %s\n", i, c->text, err.message,
                        expected);
            wrong++;
        }
    }
    if (wrong) fail_msg("%zu of %zu cases went wrong", wrong, COUNT(inline_cases));
}

/* PREFIX "[1, 2, ...]" or "{V0: x, V1: x, ...}" with n entries, SUFFIX. */
static char *manifest_with_entries(const char *prefix, size_t n, bool as_map, const char *suffix)
{
    size_t size = strlen(prefix) + n * 16 + strlen(suffix) + 8, used;
    char *text = malloc(size);
    assert_non_null(text);
    used = (size_t)snprintf(text, size, "%s%c", prefix, as_map ? '{' : '[');
    for (size_t i = 0; i < n; i++) {
        if (as_map) used += (size_t)snprintf(text + used, size - used, "%sV%zu: x", i ? ", " : "", i);
        else used += (size_t)snprintf(text + used, size - used, "%s%zu", i ? ", " : "", i + 1);
    }
    snprintf(text + used, size - used, "%c%s\n", as_map ? '}' : ']', suffix);
    return text;
}

/* The attacks of issue 10 at full size: 100,000 nested '[' (48 s in
 * libyaml's loader), nested maps, nested block lists and 20,000 anchors
 * are refused with a position at the first level or anchor too many, at
 * once: parsing time no longer grows with their square. */
static void deep_and_anchored_manifests_fail_fast(void **state)
{
    (void)state;
    enum { N = 100000 };
    static const struct {
        const char *lead, *open, *close, *error;
    } shapes[] = {
        {"args: ", "[", "]", "3:38: lists and maps nested more than 32 deep"},
        {"args: ", "{a: ", "}", "3:131: lists and maps nested more than 32 deep"},
        {"args:\n  ", "- ", "", "4:65: lists and maps nested more than 32 deep"},
        {"args: [", "&a x, ", "", "3:608: more than 100 anchors (&name)"},
    };
    for (size_t i = 0; i < COUNT(shapes); i++) {
        size_t no = strlen(shapes[i].open), nc = strlen(shapes[i].close);
        char *text = malloc(sizeof BASE + 16 + N * (no + nc) + 4);
        assert_non_null(text);
        size_t at = (size_t)sprintf(text, BASE "%s", shapes[i].lead);
        for (int k = 0; k < N; k++) memcpy(text + at, shapes[i].open, no), at += no;
        text[at++] = 'x';
        for (int k = 0; k < N; k++) memcpy(text + at, shapes[i].close, nc), at += nc;
        text[at++] = '\n';
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        qv_manifest_error err;
        qv_manifest *m = qv_manifest_parse(text, at, "t/app.qyv", &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        free(text);
        assert_null(m);
        if (strncmp(err.message + strlen("t/app.qyv:"), shapes[i].error, strlen(shapes[i].error)))
            fail_msg("shape %zu: %s", i, err.message);
        double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (took > 0.5) fail_msg("shape %zu took %.2f s", i, took);
    }
}

static void long_lists_are_capped(void **state)
{
    (void)state;
    static const struct {
        const char *prefix, *suffix;
        bool as_map;
        const char *error;
    } cases[] = {
        {BASE "args: ", "", false, "3:7: 'args' has 1025 items; at most 1024 are allowed"},
        {BASE "env: ", "", true, "3:6: 'env' has 1025 variables; at most 1024 are allowed"},
        {BASE "permissions: {net: {allowed_ports: ", "}}", false,
         "3:36: 'permissions.net.allowed_ports' has 1025 items; at most 1024 are allowed"},
        {BASE "permissions: {fs: {read: ", "}}", false,
         "3:26: 'permissions.fs.read' has 1025 items; at most 1024 are allowed"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        qv_manifest_error err;
        bool paths = strstr(cases[i].prefix, "read") != NULL;
        char *text = manifest_with_entries(cases[i].prefix, QV_MANIFEST_MAX_ITEMS, cases[i].as_map,
                                           cases[i].suffix);
        qv_manifest *m = qv_manifest_parse(text, strlen(text), "t/app.qyv", &err);
        if (paths) {
            /* Numbers are not guest paths: the first one is refused, which
             * shows the count was accepted. */
            assert_null(m);
            assert_non_null(strstr(err.message, "'permissions.fs.read[0]' must be an absolute"));
        } else if (!m) {
            fail_msg("%u entries should be accepted: %s", QV_MANIFEST_MAX_ITEMS, err.message);
        }
        qv_manifest_free(m);
        free(text);

        text = manifest_with_entries(cases[i].prefix, QV_MANIFEST_MAX_ITEMS + 1, cases[i].as_map,
                                     cases[i].suffix);
        assert_null(qv_manifest_parse(text, strlen(text), "t/app.qyv", &err));
        char expected[256];
        snprintf(expected, sizeof expected, "t/app.qyv:%s", cases[i].error);
        assert_string_equal(err.message, expected);
        free(text);
    }
}

static void unreadable_files_are_reported(void **state)
{
    (void)state;
    qv_manifest_error err;
    assert_null(qv_manifest_load(MANIFEST_FIXTURES "/no-such.qyv", &err));
    assert_string_equal(err.message,
                        MANIFEST_FIXTURES "/no-such.qyv: cannot read: No such file or directory");
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_null(qv_manifest_load(MANIFEST_FIXTURES, &err));
    assert_string_equal(err.message, MANIFEST_FIXTURES ": cannot read: Is a directory");
    assert_null(qv_manifest_load(MANIFEST_FIXTURES "/no-such.qyv", NULL));

    /* A file over the size limit is refused before it is parsed. */
    char path[] = "/tmp/qyv-manifest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char big[QV_MANIFEST_MAX_FILE_BYTES + 1];
    memset(big, '#', sizeof big);
    assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
    close(fd);
    qv_manifest *m = qv_manifest_load(path, &err);
    unlink(path);
    assert_null(m);
    char expected[256];
    snprintf(expected, sizeof expected,
             "%s: cannot read: larger than 1048576 bytes; a manifest is a small YAML file", path);
    assert_string_equal(err.message, expected);
}

/* ------------------------------------------------------------ main */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_parse_exactly),
        cmocka_unit_test(sizes_reject_nonsense),
        cmocka_unit_test(cpu_amounts_parse_exactly),
        cmocka_unit_test(cpu_amounts_reject_nonsense),
        cmocka_unit_test(durations_parse_exactly),
        cmocka_unit_test(durations_reject_nonsense),
        cmocka_unit_test(unit_errors_fit_small_buffers),
        cmocka_unit_test(edit_distance_counts_typos),
        cmocka_unit_test(suggestions_only_for_likely_typos),
        cmocka_unit_test(full_example_fills_every_field),
        cmocka_unit_test(minimal_manifest_gets_defaults),
        cmocka_unit_test(map_forms_of_permissions),
        cmocka_unit_test(guide_deploy_manifest_is_an_http_app),
        cmocka_unit_test(release_strategy_is_read),
        cmocka_unit_test(autoscale_is_read),
        cmocka_unit_test(guide_load_balancer_checks_replicas),
        cmocka_unit_test(guide_net_permissions),
        cmocka_unit_test(guide_fs_permissions_warn_of_an_idle_exclude),
        cmocka_unit_test(type_is_inferred_from_http_keys),
        cmocka_unit_test(deploy_check_inherits_the_balancer_timing),
        cmocka_unit_test(warnings_are_capped_and_counted),
        cmocka_unit_test(flow_style_keeps_text_and_order),
        cmocka_unit_test(paths_follow_the_manifest_name),
        cmocka_unit_test(enum_names_match_the_format),
        cmocka_unit_test(inline_mistakes_are_reported),
        cmocka_unit_test(deep_and_anchored_manifests_fail_fast),
        cmocka_unit_test(long_lists_are_capped),
        cmocka_unit_test(secrets_are_read_by_name),
        cmocka_unit_test(unreadable_files_are_reported),
        cmocka_unit_test(every_bad_fixture_is_checked),
    };
    int failed = cmocka_run_group_tests_name("manifest", tests, NULL, NULL);

    /* One test per malformed fixture, named after its file. */
    struct CMUnitTest bad[COUNT(bad_fixtures)];
    for (size_t i = 0; i < COUNT(bad_fixtures); i++)
        bad[i] = (struct CMUnitTest){bad_fixtures[i].file, check_bad_fixture, NULL, NULL,
                                     (void *)&bad_fixtures[i]};
    failed += _cmocka_run_group_tests("malformed manifests", bad, COUNT(bad), NULL, NULL);
    return failed ? 1 : 0;
}
