/*
 * escape.c — a WASI guest that tries to leave its sandbox every way it can
 * think of (see README.md for the list and tests/wasi/escape/run.sh for the
 * directory layout it expects). Run as
 *
 *   qyv run --dir SANDBOX::/sandbox --dir RO::/ro:ro --dir OTHER::/other escape.wasm
 *
 * Each attempt prints one line: "ok NAME: refused (WASI errno N)" or
 * "ESCAPED NAME: ..."; each control (something the sandbox must allow)
 * prints "ok NAME: allowed" or "FAIL NAME: ...". The last line is
 * "N passed, N failed, 0 skipped". Exit status: 0 if everything passed,
 * 1 if something escaped, 2 if only controls failed.
 *
 * The raw WASI calls are used throughout (libc would add its own path
 * handling in front of the host's); path_open is also imported directly,
 * to pass a path with an explicit length that contains a NUL byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

/* path_open with the path as (pointer, length), as the ABI has it. */
__wasi_errno_t raw_path_open(__wasi_fd_t fd, __wasi_lookupflags_t dirflags, const char *path,
                             size_t path_len, __wasi_oflags_t oflags, __wasi_rights_t base,
                             __wasi_rights_t inheriting, __wasi_fdflags_t fdflags,
                             __wasi_fd_t *out)
    __attribute__((__import_module__("wasi_snapshot_preview1"), __import_name__("path_open")));

#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define NOFOLLOW ((__wasi_lookupflags_t)0)

/* Rights asked for when opening something to read it: modest, so that a
 * refusal comes from the path check and not from a rights check. */
#define R_READ                                                                                   \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |                     \
     __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN |        \
     __WASI_RIGHTS_PATH_FILESTAT_GET)
#define R_WRITE (R_READ | __WASI_RIGHTS_FD_WRITE)
#define R_ALL ((__wasi_rights_t)((1u << 30) - 1))

#define SECRET_FILE "../outside/secret.txt"
#define HELLO_TEXT "hello from subdir\n"
#define RO_TEXT "read-only data\n"

static int passed, escaped, control_failed;
static __wasi_fd_t sandbox = (__wasi_fd_t)-1, ro = (__wasi_fd_t)-1, other = (__wasi_fd_t)-1;

/* ------------------------------------------------------------ reporting */

static void ok_refused(const char *name, __wasi_errno_t e)
{
    printf("ok %s: refused (WASI errno %u)\n", name, (unsigned)e);
    passed++;
}

static void escape(const char *name, const char *what)
{
    printf("ESCAPED %s: %s\n", name, what);
    escaped++;
}

static void ok_allowed(const char *name)
{
    printf("ok %s: allowed\n", name);
    passed++;
}

static void control_fail(const char *name, const char *what, __wasi_errno_t e)
{
    printf("FAIL %s: %s (WASI errno %u)\n", name, what, (unsigned)e);
    control_failed++;
}

/* An operation that must fail: any errno is a refusal, success an escape. */
static void expect_refused(const char *name, __wasi_errno_t e, const char *what)
{
    if (e) ok_refused(name, e);
    else escape(name, what);
}

/* ------------------------------------------------------------ helpers */

static __wasi_errno_t open_at(__wasi_fd_t dir, __wasi_lookupflags_t lookup, const char *path,
                              __wasi_oflags_t oflags, __wasi_rights_t base,
                              __wasi_fdflags_t fdflags, __wasi_fd_t *fd)
{
    return __wasi_path_open(dir, lookup, path, oflags, base, base, fdflags, fd);
}

static void close_fd(__wasi_fd_t fd)
{
    if (__wasi_fd_close(fd)) printf("# note: fd_close(%u) failed\n", (unsigned)fd);
}

/* Read up to cap-1 bytes from fd into buf (NUL-terminated); 0 or errno. */
static __wasi_errno_t read_some(__wasi_fd_t fd, char *buf, size_t cap)
{
    size_t got = 0;
    while (got + 1 < cap) {
        __wasi_iovec_t iov = {(uint8_t *)buf + got, cap - 1 - got};
        __wasi_size_t n = 0;
        __wasi_errno_t e = __wasi_fd_read(fd, &iov, 1, &n);
        if (e) {
            buf[got] = 0;
            return e;
        }
        if (!n) break;
        got += n;
    }
    buf[got] = 0;
    return 0;
}

static __wasi_errno_t write_text(__wasi_fd_t fd, const char *text)
{
    __wasi_ciovec_t iov = {(const uint8_t *)text, strlen(text)};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_write(fd, &iov, 1, &n);
    if (!e && n != iov.buf_len) e = __WASI_ERRNO_IO;
    return e;
}

/* Create (or truncate) a file in dir holding text: 0 or errno. */
static __wasi_errno_t make_file(__wasi_fd_t dir, const char *path, const char *text)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(dir, NOFOLLOW, path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                               R_WRITE, 0, &fd);
    if (e) return e;
    e = write_text(fd, text);
    close_fd(fd);
    return e;
}

/* Does path exist in dir (not following a last symlink)? */
static int exists(__wasi_fd_t dir, const char *path)
{
    __wasi_filestat_t st;
    return __wasi_path_filestat_get(dir, NOFOLLOW, path, &st) == 0;
}

/* Describe what an fd that should never have been opened gives access to. */
static void describe(__wasi_fd_t fd, const char *path, char *out, size_t cap)
{
    __wasi_fdstat_t st;
    char data[48];
    const char *kind = "?";
    if (__wasi_fd_fdstat_get(fd, &st) == 0)
        kind = st.fs_filetype == __WASI_FILETYPE_DIRECTORY ? "directory" : "file";
    data[0] = 0;
    if (strcmp(kind, "directory")) (void)read_some(fd, data, sizeof data);
    for (char *p = data; *p; p++)
        if (*p < 32 || *p > 126) *p = '.';
    snprintf(out, cap, "opened \"%s\" (a %s; read \"%s\")", path, kind, data);
}

/* Opening path must fail. */
static void try_open(const char *name, __wasi_fd_t dir, __wasi_lookupflags_t lookup,
                     const char *path, __wasi_oflags_t oflags, __wasi_rights_t rights)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(dir, lookup, path, oflags, rights, 0, &fd);
    if (e) {
        ok_refused(name, e);
        return;
    }
    char what[200];
    describe(fd, path, what, sizeof what);
    close_fd(fd);
    escape(name, what);
}

/* Opening path must work and, if text is given, the file must hold it. */
static void control_open(const char *name, __wasi_fd_t dir, __wasi_lookupflags_t lookup,
                         const char *path, __wasi_oflags_t oflags, const char *text)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(dir, lookup, path, oflags, R_READ, 0, &fd);
    if (e) {
        control_fail(name, "could not open", e);
        return;
    }
    if (text) {
        char buf[128];
        e = read_some(fd, buf, sizeof buf);
        if (e || strcmp(buf, text)) {
            close_fd(fd);
            control_fail(name, "opened, but could not read the expected contents", e);
            return;
        }
    }
    close_fd(fd);
    ok_allowed(name);
}

/* A write through an fd of the read-only grant. `op` is done on an fd
 * opened with `rights`; if the host refuses to open it so (as it should
 * for write rights), the attempt falls back to a plain read-only fd, so
 * that the operation itself is tried in every case. */
typedef __wasi_errno_t (*fd_op)(__wasi_fd_t fd);

static void ro_fd_attempt(const char *name, __wasi_rights_t rights, __wasi_fdflags_t fdflags,
                          fd_op op)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = open_at(ro, NOFOLLOW, "file.txt", 0, rights, fdflags, &fd);
    if (e) e = open_at(ro, NOFOLLOW, "file.txt", 0, R_READ, 0, &fd);
    if (e) {
        control_fail(name, "could not even open /ro/file.txt to read", e);
        return;
    }
    e = op(fd);
    close_fd(fd);
    expect_refused(name, e, "changed a file of the read-only preopen through its fd");
}

static __wasi_errno_t op_write(__wasi_fd_t fd) { return write_text(fd, "overwritten!\n"); }

static __wasi_errno_t op_pwrite(__wasi_fd_t fd)
{
    __wasi_ciovec_t iov = {(const uint8_t *)"XX", 2};
    __wasi_size_t n;
    return __wasi_fd_pwrite(fd, &iov, 1, 0, &n);
}

static __wasi_errno_t op_set_size(__wasi_fd_t fd) { return __wasi_fd_filestat_set_size(fd, 0); }

static __wasi_errno_t op_allocate(__wasi_fd_t fd) { return __wasi_fd_allocate(fd, 0, 4096); }

static __wasi_errno_t op_set_times(__wasi_fd_t fd)
{
    return __wasi_fd_filestat_set_times(fd, 0, 0,
                                        __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW);
}

/* ------------------------------------------------------------ preopens */

static int find_preopens(void)
{
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        __wasi_errno_t e = __wasi_fd_prestat_get(fd, &ps);
        if (e == __WASI_ERRNO_BADF) break;
        if (e || ps.tag != __WASI_PREOPENTYPE_DIR) continue;
        char name[64];
        size_t len = ps.u.dir.pr_name_len;
        if (len >= sizeof name) continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len)) continue;
        name[len] = 0;
        if (!strcmp(name, "/sandbox")) sandbox = fd;
        else if (!strcmp(name, "/ro")) ro = fd;
        else if (!strcmp(name, "/other")) other = fd;
    }
    return sandbox != (__wasi_fd_t)-1 && ro != (__wasi_fd_t)-1 && other != (__wasi_fd_t)-1;
}

/* ------------------------------------------------------------ attempts */

static void controls(void)
{
    control_open("ro_read", ro, NOFOLLOW, "file.txt", 0, RO_TEXT);
    control_open("inner_dir", sandbox, NOFOLLOW, "inner/", __WASI_OFLAGS_DIRECTORY, NULL);
    control_open("inner_file", sandbox, FOLLOW, "inner/hello.txt", 0, HELLO_TEXT);
    control_open("open_dot", sandbox, NOFOLLOW, ".", __WASI_OFLAGS_DIRECTORY, NULL);

    __wasi_errno_t e = make_file(sandbox, "created.txt", "guest was here\n");
    if (e) control_fail("sandbox_create", "could not create a file in the sandbox", e);
    else ok_allowed("sandbox_create");

    /* A symbolic link the guest makes that stays inside must work. */
    e = __wasi_path_symlink("subdir", sandbox, "mine");
    if (e) control_fail("guest_symlink_inside", "could not create mine -> subdir", e);
    else control_open("guest_symlink_inside", sandbox, FOLLOW, "mine/hello.txt", 0, HELLO_TEXT);

    e = __wasi_path_link(sandbox, NOFOLLOW, "subdir/hello.txt", sandbox, "hello_hl.txt");
    if (e) control_fail("link_inside", "could not hard-link inside the sandbox", e);
    else control_open("link_inside", sandbox, NOFOLLOW, "hello_hl.txt", 0, HELLO_TEXT);

    e = make_file(sandbox, "tomove_inside.txt", "x\n");
    if (!e) e = __wasi_path_rename(sandbox, "tomove_inside.txt", sandbox, "subdir/moved_inside.txt");
    if (e) control_fail("rename_inside", "could not rename inside the sandbox", e);
    else if (!exists(sandbox, "subdir/moved_inside.txt") || exists(sandbox, "tomove_inside.txt"))
        control_fail("rename_inside", "rename reported success but the files disagree", 0);
    else ok_allowed("rename_inside");
}

static void dotdot_and_absolute(void)
{
    try_open("dotdot_file", sandbox, NOFOLLOW, SECRET_FILE, 0, R_READ);
    try_open("subdir_dotdot_file", sandbox, NOFOLLOW, "subdir/../../outside/secret.txt", 0, R_READ);
    try_open("inner_dotdot_file", sandbox, FOLLOW, "inner/../../outside/secret.txt", 0, R_READ);
    try_open("dotdot_dir", sandbox, NOFOLLOW, "..", __WASI_OFLAGS_DIRECTORY, R_READ);
    try_open("dotdot_to_other", sandbox, NOFOLLOW, "../other/otherfile.txt", 0, R_READ);
    try_open("absolute_etc_passwd", sandbox, NOFOLLOW, "/etc/passwd", 0, R_READ);
    try_open("absolute_proc_root", sandbox, FOLLOW, "/proc/self/root/etc/passwd", 0, R_READ);
    try_open("absolute_guest_path", sandbox, NOFOLLOW, "/sandbox/subdir/hello.txt", 0, R_READ);

    /* "." of the preopen is allowed; ".." of that new fd is not. */
    __wasi_fd_t dot;
    __wasi_errno_t e = open_at(sandbox, NOFOLLOW, ".", __WASI_OFLAGS_DIRECTORY, R_READ, 0, &dot);
    if (e) {
        control_fail("dot_then_dotdot", "could not open \".\" of the sandbox", e);
    } else {
        try_open("dot_then_dotdot", dot, NOFOLLOW, "..", __WASI_OFLAGS_DIRECTORY, R_READ);
        close_fd(dot);
    }
    /* A descriptor of a subdirectory confines its paths as well. */
    __wasi_fd_t sub;
    e = open_at(sandbox, NOFOLLOW, "subdir", __WASI_OFLAGS_DIRECTORY, R_READ, 0, &sub);
    if (e) {
        control_fail("subdir_fd_escape", "could not open subdir", e);
    } else {
        try_open("subdir_fd_escape", sub, NOFOLLOW, "../../outside/secret.txt", 0, R_READ);
        close_fd(sub);
    }
}

static void host_symlinks(void)
{
    try_open("abs_link_follow", sandbox, FOLLOW, "abs_link", 0, R_READ);
    try_open("abs_link_nofollow", sandbox, NOFOLLOW, "abs_link", 0, R_READ);
    try_open("abs_dir_link", sandbox, FOLLOW, "abs_dir_link/secret.txt", 0, R_READ);
    try_open("abs_dir_link_dir", sandbox, FOLLOW, "abs_dir_link/", __WASI_OFLAGS_DIRECTORY, R_READ);
    try_open("rel_link_follow", sandbox, FOLLOW, "rel_link", 0, R_READ);
    try_open("rel_link_nofollow", sandbox, NOFOLLOW, "rel_link", 0, R_READ);
    try_open("chain_link", sandbox, FOLLOW, "chain1/secret.txt", 0, R_READ);
    /* A trailing slash makes the last component be followed even without
     * LOOKUPFLAGS_SYMLINK_FOLLOW. */
    try_open("chain_link_slash", sandbox, NOFOLLOW, "chain1/", __WASI_OFLAGS_DIRECTORY, R_READ);
    try_open("chain_link_dot", sandbox, NOFOLLOW, "chain1/.", __WASI_OFLAGS_DIRECTORY, R_READ);
    try_open("proc_link", sandbox, FOLLOW, "proc_link/etc/passwd", 0, R_READ);
    try_open("proc_link_dir", sandbox, FOLLOW, "proc_link", __WASI_OFLAGS_DIRECTORY, R_READ);
    try_open("loop_follow", sandbox, FOLLOW, "loop", 0, R_READ);
    try_open("loop_dir", sandbox, FOLLOW, "loop/x", 0, R_READ);

    __wasi_filestat_t st;
    expect_refused("stat_rel_link", __wasi_path_filestat_get(sandbox, FOLLOW, "rel_link", &st),
                   "path_filestat_get followed rel_link out of the sandbox");
    expect_refused("stat_dotdot", __wasi_path_filestat_get(sandbox, NOFOLLOW, SECRET_FILE, &st),
                   "path_filestat_get saw ../outside/secret.txt");
    expect_refused("set_times_rel_link",
                   __wasi_path_filestat_set_times(sandbox, FOLLOW, "rel_link", 0, 0,
                                                  __WASI_FSTFLAGS_ATIM_NOW |
                                                      __WASI_FSTFLAGS_MTIM_NOW),
                   "changed the times of ../outside/secret.txt through rel_link");
}

static void guest_symlinks(void)
{
    /* Creating these may succeed or fail; using them must fail. */
    (void)__wasi_path_symlink("../outside", sandbox, "mylink");
    try_open("guest_symlink_rel", sandbox, FOLLOW, "mylink/secret.txt", 0, R_READ);

    (void)__wasi_path_symlink("/", sandbox, "rootlink");
    try_open("guest_symlink_abs", sandbox, FOLLOW, "rootlink/etc/passwd", 0, R_READ);

    (void)__wasi_path_symlink("subdir/../../outside/secret.txt", sandbox, "sneaky");
    try_open("guest_symlink_dotdot", sandbox, FOLLOW, "sneaky", 0, R_READ);

    (void)__wasi_path_symlink("/proc/self/cwd", sandbox, "proccwd");
    try_open("guest_symlink_proc", sandbox, FOLLOW, "proccwd", __WASI_OFLAGS_DIRECTORY, R_READ);

    /* A dangling link to a name outside, opened with O_CREAT: a host that
     * lets the kernel follow it creates the file outside. */
    (void)__wasi_path_symlink("../outside/dangling_target.txt", sandbox, "dangle");
    try_open("create_through_dangling", sandbox, FOLLOW, "dangle", __WASI_OFLAGS_CREAT, R_WRITE);

    /* Links between preopens: from /other into /sandbox, and from the
     * writable /sandbox onto the read-only /ro's file. */
    (void)__wasi_path_symlink("../sandbox", other, "to_sandbox");
    try_open("guest_symlink_cross_preopen", other, FOLLOW, "to_sandbox/subdir/hello.txt", 0,
             R_READ);
    (void)__wasi_path_symlink("../ro/file.txt", sandbox, "to_ro");
    try_open("guest_symlink_to_ro_write", sandbox, FOLLOW, "to_ro", 0, R_WRITE);

    expect_refused("symlink_placed_outside",
                   __wasi_path_symlink("x", sandbox, "../outside/planted"),
                   "created a symbolic link in ../outside");
}

static void writes_outside(void)
{
    try_open("create_dotdot", sandbox, NOFOLLOW, "../outside/created.txt", __WASI_OFLAGS_CREAT,
             R_WRITE);
    try_open("create_through_chain", sandbox, FOLLOW, "chain1/created.txt", __WASI_OFLAGS_CREAT,
             R_WRITE);
    try_open("trunc_through_rel_link", sandbox, FOLLOW, "rel_link", __WASI_OFLAGS_TRUNC, R_WRITE);
    try_open("dotdot_to_ro_trunc", sandbox, NOFOLLOW, "../ro/file.txt", __WASI_OFLAGS_TRUNC,
             R_WRITE);
    expect_refused("mkdir_dotdot", __wasi_path_create_directory(sandbox, "../outside/newdir"),
                   "created ../outside/newdir");
    expect_refused("mkdir_through_abs_dir_link",
                   __wasi_path_create_directory(sandbox, "abs_dir_link/newdir"),
                   "created a directory through abs_dir_link");
    expect_refused("unlink_through_chain", __wasi_path_unlink_file(sandbox, "chain1/secret.txt"),
                   "deleted ../outside/secret.txt through chain1");
    expect_refused("unlink_dotdot", __wasi_path_unlink_file(sandbox, SECRET_FILE),
                   "deleted ../outside/secret.txt");
}

static void hard_links(void)
{
    expect_refused("link_dotdot_in", __wasi_path_link(sandbox, NOFOLLOW, SECRET_FILE, sandbox, "hl1"),
                   "hard-linked ../outside/secret.txt into the sandbox");
    expect_refused("link_rel_link_follow",
                   __wasi_path_link(sandbox, FOLLOW, "rel_link", sandbox, "hl2"),
                   "hard-linked rel_link's target (outside) into the sandbox");
    expect_refused("link_abs_link_follow",
                   __wasi_path_link(sandbox, FOLLOW, "abs_link", sandbox, "hl3"),
                   "hard-linked /etc/passwd into the sandbox");
    expect_refused("link_placed_outside",
                   __wasi_path_link(sandbox, NOFOLLOW, "subdir/hello.txt", sandbox,
                                    "../outside/hl4"),
                   "created a hard link in ../outside");
    expect_refused("link_dotdot_ro_in",
                   __wasi_path_link(sandbox, NOFOLLOW, "../ro/file.txt", sandbox, "ro_hl2.txt"),
                   "hard-linked ../ro/file.txt into the writable sandbox");
    /* Linking the symlink itself (no follow) may work: it is just another
     * link inside; following it must still fail. */
    (void)__wasi_path_link(sandbox, NOFOLLOW, "rel_link", sandbox, "hl5");
    try_open("link_of_symlink_then_open", sandbox, FOLLOW, "hl5", 0, R_READ);
}

static void renames(void)
{
    expect_refused("rename_dir_out", __wasi_path_rename(sandbox, "subdir", sandbox, "../moved"),
                   "moved subdir out of the sandbox to ../moved");
    __wasi_errno_t e = make_file(sandbox, "victim.txt", "victim\n");
    if (e) control_fail("rename_file_out", "could not create victim.txt", e);
    else
        expect_refused("rename_file_out",
                       __wasi_path_rename(sandbox, "victim.txt", sandbox, "../outside/x"),
                       "moved victim.txt to ../outside/x");
    if (!e)
        expect_refused("rename_to_other_dotdot",
                       __wasi_path_rename(sandbox, "victim.txt", other, "../outside/y"),
                       "moved victim.txt through /other to ../outside/y");
    expect_refused("rename_outside_in",
                   __wasi_path_rename(sandbox, SECRET_FILE, sandbox, "stolen.txt"),
                   "moved ../outside/secret.txt into the sandbox");
    expect_refused("rename_through_chain_in",
                   __wasi_path_rename(sandbox, "chain1/secret.txt", sandbox, "stolen2.txt"),
                   "moved secret.txt into the sandbox through chain1");
    expect_refused("rename_over_abs_dir_link",
                   __wasi_path_rename(sandbox, "created.txt", sandbox, "abs_dir_link/secret.txt"),
                   "replaced OUTSIDE/secret.txt through abs_dir_link");
}

static void odd_paths_and_fds(void)
{
    /* "ok" exists in the sandbox: a host that cuts the path at the NUL
     * would open it. */
    static const char nul_path[] = "ok\0../../outside/secret.txt";
    __wasi_fd_t fd;
    __wasi_errno_t e = raw_path_open(sandbox, NOFOLLOW, nul_path, sizeof nul_path - 1, 0, R_READ,
                                     R_READ, 0, &fd);
    if (e) {
        ok_refused("nul_in_path", e);
    } else {
        close_fd(fd);
        escape("nul_in_path", "opened a path with a NUL byte inside (cut at the NUL?)");
    }

    static char path[40000];
    size_t n = 0;
    for (int i = 0; i < 1300; i++, n += 3) memcpy(path + n, "../", 3);
    strcpy(path + n, "etc/passwd"); /* 3910 bytes: under PATH_MAX */
    try_open("long_dotdot", sandbox, NOFOLLOW, path, 0, R_READ);
    for (n = 0; n + 3 < 30000; n += 3) memcpy(path + n, "../", 3);
    strcpy(path + n, "etc/passwd");
    try_open("huge_dotdot", sandbox, NOFOLLOW, path, 0, R_READ);
    n = 0;
    for (int i = 0; i < 1000; i++, n += 2) memcpy(path + n, "./", 2);
    strcpy(path + n, SECRET_FILE);
    try_open("many_dots_then_dotdot", sandbox, NOFOLLOW, path, 0, R_READ);

    try_open("fd_1000", 1000, NOFOLLOW, "secret.txt", 0, R_READ);
    try_open("fd_minus_1", (__wasi_fd_t)-1, NOFOLLOW, "etc/passwd", 0, R_READ);
    try_open("fd_stdin", 0, NOFOLLOW, "etc/passwd", 0, R_READ);
    __wasi_fd_t sub;
    e = open_at(sandbox, NOFOLLOW, "subdir", __WASI_OFLAGS_DIRECTORY, R_READ, 0, &sub);
    if (e) {
        control_fail("fd_closed", "could not open subdir", e);
    } else {
        close_fd(sub);
        try_open("fd_closed", sub, NOFOLLOW, "hello.txt", 0, R_READ);
    }
}

static void read_only(void)
{
    try_open("ro_creat", ro, NOFOLLOW, "new.txt", __WASI_OFLAGS_CREAT, R_WRITE);
    try_open("ro_creat_read_rights", ro, NOFOLLOW, "new2.txt", __WASI_OFLAGS_CREAT, R_READ);
    try_open("ro_creat_all_rights", ro, NOFOLLOW, "new3.txt", __WASI_OFLAGS_CREAT, R_ALL);
    try_open("ro_trunc", ro, NOFOLLOW, "file.txt", __WASI_OFLAGS_TRUNC, R_READ);
    /* Opening with write rights must fail, or give an fd that cannot write. */
    ro_fd_attempt("ro_open_write_rights", R_WRITE, 0, op_write);
    ro_fd_attempt("ro_open_all_rights", R_ALL, 0, op_write);
    ro_fd_attempt("ro_open_append", R_WRITE, __WASI_FDFLAGS_APPEND, op_write);
    ro_fd_attempt("ro_fd_write", R_READ, 0, op_write);
    ro_fd_attempt("ro_fd_pwrite", R_READ, 0, op_pwrite);
    ro_fd_attempt("ro_fd_set_size", R_READ | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE, 0, op_set_size);
    ro_fd_attempt("ro_fd_allocate", R_READ | __WASI_RIGHTS_FD_ALLOCATE, 0, op_allocate);
    ro_fd_attempt("ro_fd_set_times", R_READ | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES, 0, op_set_times);

    expect_refused("ro_mkdir", __wasi_path_create_directory(ro, "newdir"),
                   "created a directory in /ro");
    expect_refused("ro_unlink", __wasi_path_unlink_file(ro, "file.txt"), "deleted /ro/file.txt");
    expect_refused("ro_rmdir", __wasi_path_remove_directory(ro, "emptydir"),
                   "removed /ro/emptydir");
    expect_refused("ro_rename", __wasi_path_rename(ro, "file.txt", ro, "renamed.txt"),
                   "renamed /ro/file.txt");
    expect_refused("ro_rename_out", __wasi_path_rename(ro, "file.txt", sandbox, "stolen_ro.txt"),
                   "moved /ro/file.txt into the sandbox");
    __wasi_errno_t e = make_file(sandbox, "victim2.txt", "victim\n");
    if (e) control_fail("ro_rename_in", "could not create victim2.txt", e);
    else
        expect_refused("ro_rename_in", __wasi_path_rename(sandbox, "victim2.txt", ro, "planted.txt"),
                       "moved a file into /ro");
    expect_refused("ro_symlink", __wasi_path_symlink("file.txt", ro, "lnk"),
                   "created a symbolic link in /ro");
    expect_refused("ro_link_in", __wasi_path_link(sandbox, NOFOLLOW, "subdir/hello.txt", ro, "hl"),
                   "created a hard link in /ro");
    /* A hard link from the read-only grant into a writable one would let
     * the guest write the read-only file through it. */
    expect_refused("ro_link_out", __wasi_path_link(ro, NOFOLLOW, "file.txt", sandbox, "ro_hl.txt"),
                   "hard-linked /ro/file.txt into the writable sandbox");
    expect_refused("ro_set_times",
                   __wasi_path_filestat_set_times(ro, NOFOLLOW, "file.txt", 0, 0,
                                                  __WASI_FSTFLAGS_ATIM_NOW |
                                                      __WASI_FSTFLAGS_MTIM_NOW),
                   "changed the times of /ro/file.txt");

    /* A new descriptor of the read-only directory, asking for every right,
     * is just as read-only. */
    __wasi_fd_t dir;
    e = __wasi_path_open(ro, NOFOLLOW, ".", __WASI_OFLAGS_DIRECTORY, R_ALL, R_ALL, 0, &dir);
    if (e) e = open_at(ro, NOFOLLOW, ".", __WASI_OFLAGS_DIRECTORY, R_READ, 0, &dir);
    if (e) {
        control_fail("ro_reopen_write", "could not open /ro/. at all", e);
    } else {
        __wasi_errno_t e1 = __wasi_path_create_directory(dir, "newdir2");
        __wasi_fd_t fd;
        __wasi_errno_t e2 = open_at(dir, NOFOLLOW, "new4.txt", __WASI_OFLAGS_CREAT, R_WRITE, 0, &fd);
        if (!e2) close_fd(fd);
        if (e1 && e2) ok_refused("ro_reopen_write", e1);
        else escape("ro_reopen_write", "wrote into /ro through a re-opened descriptor of it");
        close_fd(dir);
    }
    /* Asking for more rights on the preopen itself changes nothing. */
    (void)__wasi_fd_fdstat_set_rights(ro, R_ALL, R_ALL);
    expect_refused("ro_raise_rights", __wasi_path_create_directory(ro, "newdir3"),
                   "created a directory in /ro after fd_fdstat_set_rights");
}

/* run.sh keeps swapping sandbox/race (a directory holding secret.txt =
 * "inside") with sandbox/race_swap (a symlink to ../outside) by
 * renameat2(RENAME_EXCHANGE) while the guest runs. For two seconds, open
 * race/secret.txt and create race/made.txt as fast as possible: every open
 * must either find the inside file or be refused, whatever the timing of
 * the swaps against the host's checks. (A creation that lands outside is
 * caught by run.sh's host-side check of outside/.) */
static __wasi_timestamp_t now(void)
{
    __wasi_timestamp_t t = 0;
    if (__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t)) t = 0;
    return t;
}

static void race_swap(void)
{
    if (!exists(sandbox, "race")) {
        control_fail("race_swap", "run.sh planted no sandbox/race", 0);
        return;
    }
    unsigned long opens = 0, inside = 0, refused = 0, outside = 0;
    __wasi_errno_t last = 0;
    char seen[64] = "";
    __wasi_timestamp_t end = now() + 2000000000ull;
    while (now() < end) {
        for (int i = 0; i < 32; i++) {
            __wasi_fd_t fd;
            __wasi_lookupflags_t lookup = i & 1 ? FOLLOW : NOFOLLOW;
            __wasi_errno_t e = open_at(sandbox, lookup, "race/secret.txt", 0, R_READ, 0, &fd);
            opens++;
            if (e) {
                refused++;
                last = e;
            } else {
                char buf[64];
                (void)read_some(fd, buf, sizeof buf);
                close_fd(fd);
                if (!strcmp(buf, "inside\n")) {
                    inside++;
                } else {
                    outside++;
                    for (char *p = buf; *p; p++)
                        if (*p < 32 || *p > 126) *p = '.';
                    snprintf(seen, sizeof seen, "%s", buf);
                }
            }
            if (!open_at(sandbox, lookup, "race/made.txt", __WASI_OFLAGS_CREAT, R_WRITE, 0, &fd))
                close_fd(fd);
        }
    }
    printf("# race_swap: %lu opens: %lu inside, %lu refused, %lu outside\n", opens, inside,
           refused, outside);
    if (outside) {
        char what[160];
        snprintf(what, sizeof what, "%lu of %lu opens of race/secret.txt read \"%s\"", outside,
                 opens, seen);
        escape("race_swap", what);
    } else if (!refused || !inside) {
        control_fail("race_swap", "race/ never changed while the guest ran: is the racer running?",
                     last);
    } else {
        ok_refused("race_swap", last);
    }
}

/* Moving a file from one writable preopen to another is allowed (both
 * descriptors hold the rename rights); it must land in /other and nowhere
 * else (run.sh checks that host-side). */
static void cross_preopen_rename(void)
{
    __wasi_errno_t e = make_file(sandbox, "tomove.txt", "moved across preopens\n");
    if (!e) e = __wasi_path_rename(sandbox, "tomove.txt", other, "moved.txt");
    if (e) control_fail("rename_across_preopens", "could not rename /sandbox/tomove.txt to /other/moved.txt", e);
    else if (!exists(other, "moved.txt") || exists(sandbox, "tomove.txt"))
        control_fail("rename_across_preopens", "rename reported success but the files disagree", 0);
    else ok_allowed("rename_across_preopens");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!find_preopens()) {
        printf("FAIL setup: expected preopens /sandbox, /ro and /other\n");
        printf("0 passed, 1 failed, 0 skipped\n");
        return 2;
    }
    controls();
    dotdot_and_absolute();
    host_symlinks();
    guest_symlinks();
    writes_outside();
    hard_links();
    renames();
    odd_paths_and_fds();
    read_only();
    cross_preopen_rename();
    race_swap();
    printf("%d passed, %d failed, 0 skipped\n", passed, escaped + control_failed);
    return escaped ? 1 : control_failed ? 2 : 0;
}
