/*
 * tree.c — fresh, writable copies of a test's root directory (the shared
 * copy is read-only and must never be written), and their removal.
 *
 * Everything goes through directory descriptors (openat and friends) with
 * O_NOFOLLOW, so a symbolic link in the tree is copied as a link and never
 * followed, on the way in or out. All descriptors are close-on-exec: other
 * threads start test processes meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasitest.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* specification.md: `*.cleanup` files are artifacts of earlier runs, to
 * be removed before testing; leaving them out of the copy does that. Like
 * the Python runner, a symbolic link of that name is kept. */
static bool is_cleanup(const char *name)
{
    size_t n = strlen(name);
    return n >= 8 && !strcmp(name + n - 8, ".cleanup");
}

/* The copy's mode gets `add` (the owner may then write and delete in it,
 * as tests expect); its times are the original's, as `cp -a` keeps them. */
static bool finish(int fd, const struct stat *st, mode_t add)
{
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    return fchmod(fd, (st->st_mode & 07777) | add) == 0 && futimens(fd, times) == 0;
}

static bool copy_bytes(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) return true;
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            off += w;
        }
    }
}

static bool close_both(int a, int b, bool ok)
{
    int saved = errno;
    if (a >= 0) close(a);
    if (b >= 0 && close(b) != 0 && ok) return false;
    errno = saved;
    return ok;
}

static bool copy_entries(int from, int to);

static bool copy_entry(int from, int to, const char *name)
{
    struct stat st;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t len = readlinkat(from, name, target, sizeof target - 1);
        if (len < 0) return false;
        target[len] = 0;
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        return symlinkat(target, to, name) == 0 && utimensat(to, name, times, AT_SYMLINK_NOFOLLOW) == 0;
    }
    if (is_cleanup(name)) return true;
    if (S_ISDIR(st.st_mode)) {
        if (mkdirat(to, name, 0700) != 0) return false;
        int in = openat(from, name, DIR_FLAGS), out = in < 0 ? -1 : openat(to, name, DIR_FLAGS);
        /* Its times last: filling it changes them. */
        bool ok = out >= 0 && copy_entries(in, out) && finish(out, &st, S_IRWXU);
        return close_both(in, out, ok);
    }
    if (S_ISREG(st.st_mode)) {
        int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int out = in < 0 ? -1 : openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = out >= 0 && copy_bytes(in, out) && finish(out, &st, S_IRUSR | S_IWUSR);
        return close_both(in, out, ok);
    }
    /* Devices, FIFOs, sockets: no test tree has any, and a copy must not
     * hand a test a device node. */
    return true;
}

static bool copy_entries(int from, int to)
{
    int fd = fcntl(from, F_DUPFD_CLOEXEC, 0); /* closedir() will close it */
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) return close_both(fd, -1, false);
    bool ok = true;
    struct dirent *e;
    errno = 0;
    while (ok && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ok = copy_entry(from, to, e->d_name);
    if (ok && errno) ok = false; /* readdir failed */
    int saved = errno;
    closedir(d);
    errno = saved;
    return ok;
}

bool tree_copy(const char *from, const char *to)
{
    struct stat st;
    int in = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC), out = in < 0 ? -1 : open(to, DIR_FLAGS);
    bool ok = out >= 0 && fstat(in, &st) == 0 && copy_entries(in, out) && finish(out, &st, S_IRWXU);
    return close_both(in, out, ok);
}

/* Remove `name` in directory `dir`. The test is over and its process group
 * dead, so nothing can swap entries behind our back. */
static bool remove_entry(int dir, const char *name)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT;
    if (!S_ISDIR(st.st_mode)) return unlinkat(dir, name, 0) == 0 || errno == ENOENT;
    /* A directory the test left unreadable or unwritable: its owner (we
     * made the copy) may give itself the rights back. */
    if ((st.st_mode & S_IRWXU) != S_IRWXU) fchmodat(dir, name, (st.st_mode & 07777) | S_IRWXU, 0);
    int fd = openat(dir, name, DIR_FLAGS);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) return close_both(fd, -1, false);
    bool ok = true;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ok = remove_entry(fd, e->d_name) && ok;
    closedir(d);
    return unlinkat(dir, name, AT_REMOVEDIR) == 0 && ok;
}

bool tree_remove(const char *path)
{
    return remove_entry(AT_FDCWD, path);
}
