/*
 * test_wasi.c — the WASI host through its public API (qyvol/wasi.h):
 * configuration errors, stdio plumbing, args and environment, closed
 * descriptors, exit statuses and modules that are not commands. The
 * sandbox itself is tested from inside guests by tests/wasi/ and the
 * official suite (build/wasitest).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testwasm.h"

#include "qyvol/wasi.h"


/* Run module `name` with cfg; returns its status (or -1 and *trap). */
static int run(const char *name, qv_wasi_config *cfg, qv_trap **trap)
{
    qv_module *m = load(name);
    qv_store *store = qv_store_new(NULL);
    qv_linker *linker = qv_linker_new(store);
    char err[256];
    qv_wasi *w = qv_wasi_new(cfg, err, sizeof err);
    if (!w) fail_msg("qv_wasi_new: %s", err);
    assert_true(qv_wasi_define(w, linker));
    qv_error e;
    qv_instance *inst = qv_linker_instantiate(linker, m, trap, &e);
    if (!inst) fail_msg("instantiate: %s", e.message);
    int status = qv_wasi_run(w, store, inst, trap);
    qv_wasi_delete(w);
    qv_linker_delete(linker);
    qv_store_delete(store);
    qv_module_delete(m);
    return status;
}

static void missing_preopen_is_named(void **state)
{
    (void)state;
    qv_wasi_preopen p = {.host_path = "/nonexistent/qyvol", .guest_path = "/data", .access = QV_WASI_READ};
    qv_wasi_config cfg = {.preopens = &p, .npreopens = 1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    char err[256];
    assert_null(qv_wasi_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/qyvol"));
    assert_non_null(strstr(err, "No such file"));
}

static void hidden_path_must_be_below_its_grant(void **state)
{
    (void)state;
    const char *hidden[] = {"/other/secret"};
    qv_wasi_preopen p = {.host_path = "/tmp", .guest_path = "/app", .access = QV_WASI_READ,
                         .hidden = hidden, .nhidden = 1};
    qv_wasi_config cfg = {.preopens = &p, .npreopens = 1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    char err[256];
    assert_null(qv_wasi_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "/other/secret is not below /app"));
}

static void stdout_and_exit_status(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    qv_wasi_config cfg = {.stdin_fd = -1, .stdout_fd = pipefd[1], .stderr_fd = -1};
    qv_trap *trap = NULL;
    assert_int_equal(run("wasi_exit", &cfg, &trap), 7);
    assert_null(trap);
    close(pipefd[1]);
    char buf[16] = {0};
    assert_int_equal(read(pipefd[0], buf, sizeof buf - 1), 4);
    assert_string_equal(buf, "bye\n");
    close(pipefd[0]);
}

static void args_env_and_closed_stdin(void **state)
{
    (void)state;
    const char *args[] = {"probe", "a", "b"};
    const char *env[] = {"A=1", "B=2"};
    qv_wasi_config cfg = {.args = args, .nargs = 3, .env = env, .nenv = 2,
                          .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    qv_trap *trap = NULL;
    /* 3 args, 2 variables, fd_read(0) on a closed stdin gives EBADF (8). */
    assert_int_equal(run("wasi_probe", &cfg, &trap), 3000 + 200 + 8);
    assert_null(trap);
}

static void stdin_is_read(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(write(pipefd[1], "x", 1), 1);
    close(pipefd[1]);
    qv_wasi_config cfg = {.stdin_fd = pipefd[0], .stdout_fd = -1, .stderr_fd = -1};
    qv_trap *trap = NULL;
    /* No args, no environment, the read succeeds (errno 0). */
    assert_int_equal(run("wasi_probe", &cfg, &trap), 0);
    close(pipefd[0]);
}

/* run() with the context kept, to read its in-memory output. */
static void stdio_in_memory(void **state)
{
    (void)state;
    qv_module *m = load("wasi_exit");
    qv_store *store = qv_store_new(NULL);
    qv_linker *linker = qv_linker_new(store);
    qv_wasi_config cfg = {.stdio_in_memory = true, .stdin_data = "x", .stdin_len = 1, .max_output = 2};
    char err[256];
    qv_wasi *w = qv_wasi_new(&cfg, err, sizeof err);
    assert_non_null(w);
    assert_true(qv_wasi_define(w, linker));
    qv_trap *trap = NULL;
    qv_error e;
    qv_instance *inst = qv_linker_instantiate(linker, m, &trap, &e);
    assert_non_null(inst);
    assert_int_equal(qv_wasi_run(w, store, inst, &trap), 7);
    /* "bye\n" against a 2-byte cap: the first two bytes, and the cap noted. */
    size_t len;
    bool full;
    const char *out = qv_wasi_output(w, 1, &len, &full);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "by", 2);
    assert_true(full);
    assert_int_equal(qv_wasi_output(w, 2, &len, &full)[0], 0);
    assert_int_equal(len, 0);
    assert_false(full);
    qv_wasi_delete(w);
    qv_linker_delete(linker);
    qv_store_delete(store);
    qv_module_delete(m);

    /* Reading stdin from memory: wasi_probe's fd_read succeeds (errno 0). */
    qv_wasi_config in = {.stdio_in_memory = true, .stdin_data = "abc", .stdin_len = 3};
    assert_int_equal(run("wasi_probe", &in, &trap), 0);
}

/* In-memory stdout and stderr count against the store's memory budget:
 * a guest writing without end gets EFBIG once it has used the budget,
 * however large max_output is, and the host keeps no more than that. */
static void output_counts_against_the_store_budget(void **state)
{
    (void)state;
    qv_module *m = load("wasi_spew");
    qv_store *store = qv_store_new(&(qv_store_limits){.max_bytes = 4u << 20});
    qv_linker *linker = qv_linker_new(store);
    qv_wasi_config cfg = {.stdio_in_memory = true};
    char err[256];
    qv_wasi *w = qv_wasi_new(&cfg, err, sizeof err);
    assert_non_null(w);
    assert_true(qv_wasi_define(w, linker));
    qv_trap *trap = NULL;
    qv_error e;
    qv_instance *inst = qv_linker_instantiate(linker, m, &trap, &e);
    assert_non_null(inst);
    assert_int_equal(qv_wasi_run(w, store, inst, &trap), 22); /* EFBIG */
    size_t out_len, err_len;
    bool out_full, err_full;
    qv_wasi_output(w, 1, &out_len, &out_full);
    qv_wasi_output(w, 2, &err_len, &err_full);
    assert_true(out_full && err_full);
    assert_true(out_len >= (2u << 20) && out_len < (4u << 20));
    assert_true(out_len + err_len < (4u << 20));
    assert_true(qv_store_bytes(store) <= (4u << 20));
    qv_wasi_delete(w);
    qv_linker_delete(linker);
    qv_store_delete(store);
    qv_module_delete(m);
}

/* qv_wasi_open_beneath, by openat2 and by the portable walk: links that
 * stay inside are followed, every way out is EXDEV (or ELOOP). */
static void open_beneath_keeps_inside(void **state)
{
    (void)state;
    char top[] = "/tmp/qyvol-beneath-XXXXXX";
    assert_non_null(mkdtemp(top));
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p app/data/sub out && echo in >app/data/f && echo out >out/f && "
             "ln -s data app/alias && ln -s ../f app/data/sub/up && ln -s / app/root && ln -s ../out app/esc && "
             "ln -s /proc/self app/proc && ln -s loop app/loop && ln -s esc/f app/chain && mkfifo app/fifo",
             top);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/app", top);
    int dir = open(cmd, O_PATH | O_DIRECTORY);
    assert_true(dir >= 0);
    static const struct {
        const char *path;
        int flags, err; /* err 0: opens */
    } cases[] = {
        {"data/f", O_RDONLY, 0},           {"alias/f", O_RDONLY, 0},        {"data/sub/up", O_RDONLY, 0},
        {"data/sub/../f", O_RDONLY, 0},    {".", O_PATH | O_DIRECTORY, 0},  {"data/..", O_PATH | O_DIRECTORY, 0},
        {"..", O_PATH | O_DIRECTORY, EXDEV}, {"../out/f", O_RDONLY, EXDEV}, {"/etc/passwd", O_RDONLY, EXDEV},
        {"root/etc/passwd", O_RDONLY, EXDEV}, {"root", O_PATH | O_DIRECTORY, EXDEV}, {"esc/f", O_RDONLY, EXDEV},
        {"esc", O_PATH, EXDEV},            {"chain", O_RDONLY, EXDEV},      {"proc/status", O_RDONLY, EXDEV},
        {"data/sub/../../../out/f", O_RDONLY, EXDEV}, {"loop", O_RDONLY, ELOOP}, {"nope", O_RDONLY, ENOENT},
        {"data/f/x", O_RDONLY, ENOTDIR},   {"fifo", O_RDONLY | O_NONBLOCK, 0},
    };
    for (int walk = 0; walk < 2; walk++) {
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            errno = 0;
            int fd = qv_wasi_open_beneath(dir, cases[i].path, cases[i].flags, walk);
            int err = fd < 0 ? errno : 0;
            if (fd >= 0) close(fd);
            /* openat2 says ELOOP for a loop; the walk gives up after 40 links. */
            if (err != cases[i].err && !(cases[i].err == ELOOP && (err == ELOOP || err == EXDEV)))
                fail_msg("%s (%s): errno %d (%s), expected %d", cases[i].path, walk ? "walk" : "openat2", err,
                         strerror(err), cases[i].err);
        }
    }
    close(dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", top);
    assert_int_equal(system(cmd), 0);
}

static void trap_comes_back(void **state)
{
    (void)state;
    qv_wasi_config cfg = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    qv_trap *trap = NULL;
    assert_int_equal(run("wasi_trap", &cfg, &trap), -1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_UNREACHABLE);
    qv_trap_delete(trap);
}

static void module_without_start(void **state)
{
    (void)state;
    qv_wasi_config cfg = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    qv_trap *trap = NULL;
    assert_int_equal(run("wasi_reactor", &cfg, &trap), -1);
    assert_non_null(trap);
    assert_non_null(strstr(qv_trap_message(trap), "no _start"));
    qv_trap_delete(trap);
}

static void unknown_import_is_a_link_error(void **state)
{
    (void)state;
    qv_module *m = load("wasi_unknown_import");
    qv_store *store = qv_store_new(NULL);
    qv_linker *linker = qv_linker_new(store);
    qv_wasi_config cfg = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    char err[256];
    qv_wasi *w = qv_wasi_new(&cfg, err, sizeof err);
    assert_non_null(w);
    assert_true(qv_wasi_define(w, linker));
    qv_trap *trap = NULL;
    qv_error e;
    assert_null(qv_linker_instantiate(linker, m, &trap, &e));
    assert_null(trap);
    assert_non_null(strstr(e.message, "wasi_snapshot_preview1.no_such_call"));
    qv_wasi_delete(w);
    qv_linker_delete(linker);
    qv_store_delete(store);
    qv_module_delete(m);
}

/* ---- qv_wasi_pre: imports resolved once per module */

/* Run module `name` through qv_wasi_pre with stdio in memory. */
static int run_pre(const char *name, const qv_wasi_config *cfg, qv_trap **trap)
{
    qv_module *m = load(name);
    char err[256];
    qv_wasi_pre *pre = qv_wasi_pre_new(m, err, sizeof err);
    if (!pre) fail_msg("qv_wasi_pre_new: %s", err);
    int status = 0;
    for (int round = 0; round < 2; round++) { /* the same pre, twice */
        qv_store *store = qv_store_new(NULL);
        qv_wasi *w = qv_wasi_new(cfg, err, sizeof err);
        if (!w) fail_msg("qv_wasi_new: %s", err);
        qv_error e;
        qv_instance *inst = qv_wasi_pre_instantiate(pre, w, store, trap, &e);
        if (!inst) fail_msg("instantiate: %s", e.message);
        status = qv_wasi_run(w, store, inst, trap);
        if (round == 0 && *trap) qv_trap_delete(*trap), *trap = NULL; /* the second one is returned */
        qv_wasi_delete(w);
        qv_store_delete(store);
    }
    qv_wasi_pre_delete(pre);
    qv_module_delete(m);
    return status;
}

static void pre_runs_like_the_linker(void **state)
{
    (void)state;
    const char *args[] = {"probe", "x"}, *env[] = {"A=1", "B=2", "C=3"};
    qv_wasi_config cfg = {.args = args, .nargs = 2, .env = env, .nenv = 3,
                          .stdio_in_memory = true, .stdin_data = "abc", .stdin_len = 3};
    qv_trap *trap = NULL;
    assert_int_equal(run_pre("wasi_probe", &cfg, &trap), 2300);
    assert_int_equal(run("wasi_probe", &cfg, &trap), 2300);
    assert_null(trap);
    /* A trap comes back the same way. */
    assert_int_equal(run_pre("wasi_trap", &cfg, &trap), -1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_UNREACHABLE);
    qv_trap_delete(trap);
}

/* qv_wasi_pre_new on `name` fails with a message containing `want`. */
static void pre_refuses(const char *name, const char *want)
{
    qv_module *m = load(name);
    char err[256] = "";
    assert_null(qv_wasi_pre_new(m, err, sizeof err));
    if (!strstr(err, want)) fail_msg("%s: '%s' does not say '%s'", name, err, want);
    qv_module_delete(m);
}

static void pre_names_what_it_refuses(void **state)
{
    (void)state;
    pre_refuses("wasi_unknown_import", "unknown import: wasi_snapshot_preview1.no_such_call");
    pre_refuses("wasi_wrong_type", "incompatible import type: wasi_snapshot_preview1.fd_write");
    pre_refuses("wasi_memory_import", "unknown import: wasi_snapshot_preview1.memory");
    pre_refuses("host", "unknown import: ");
}

int main(int argc, char **argv)
{
    (void)argc;
    testwasm_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_preopen_is_named),
        cmocka_unit_test(hidden_path_must_be_below_its_grant),
        cmocka_unit_test(stdout_and_exit_status),
        cmocka_unit_test(args_env_and_closed_stdin),
        cmocka_unit_test(stdin_is_read),
        cmocka_unit_test(stdio_in_memory),
        cmocka_unit_test(output_counts_against_the_store_budget),
        cmocka_unit_test(open_beneath_keeps_inside),
        cmocka_unit_test(trap_comes_back),
        cmocka_unit_test(module_without_start),
        cmocka_unit_test(unknown_import_is_a_link_error),
        cmocka_unit_test(pre_runs_like_the_linker),
        cmocka_unit_test(pre_names_what_it_refuses),
    };
    return cmocka_run_group_tests_name("wasi", tests, NULL, NULL);
}
