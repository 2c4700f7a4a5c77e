/*
 * tree.c — fresh, writable copies of a test's directory (the shared copy is
 * read-only and must never be written), and their removal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasitest.h"

static bool copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return false;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode & 0777) | 0600);
    bool ok = out >= 0;
    char buf[65536];
    ssize_t n = 0;
    while (ok && (n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; ok && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            ok = w > 0;
            off += w;
        }
    ok = ok && n == 0;
    int saved = errno;
    close(in);
    if (out >= 0 && close(out) != 0) ok = false;
    errno = saved;
    return ok;
}

bool tree_copy(const char *from, const char *to)
{
    struct stat st;
    if (stat(from, &st) != 0) return false;
    if (mkdir(to, (st.st_mode & 0777) | 0700) != 0) return false;
    DIR *d = opendir(from);
    if (!d) return false;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        /* Artifacts of earlier runs, which the specification says to drop. */
        size_t n = strlen(e->d_name);
        if (n > 8 && !strcmp(e->d_name + n - 8, ".cleanup")) continue;
        char src[PATH_MAX], dst[PATH_MAX];
        if (snprintf(src, sizeof src, "%s/%s", from, e->d_name) >= (int)sizeof src ||
            snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) >= (int)sizeof dst) {
            errno = ENAMETOOLONG;
            ok = false;
            break;
        }
        if (lstat(src, &st) != 0) ok = false;
        else if (S_ISDIR(st.st_mode)) ok = tree_copy(src, dst);
        else if (S_ISREG(st.st_mode)) ok = copy_file(src, dst, st.st_mode);
        else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t len = readlink(src, target, sizeof target - 1);
            ok = len >= 0;
            if (ok) {
                target[len] = 0;
                ok = symlink(target, dst) == 0;
            }
        }
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return ok;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    /* A test may have left a folder without write permission. */
    if (flag == FTW_DP) {
        rmdir(path);
    } else {
        if (flag == FTW_D && !(st->st_mode & S_IWUSR)) chmod(path, st->st_mode | S_IRWXU);
        unlink(path);
    }
    return 0;
}

void tree_remove(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
