/*
 * run_scratch.c — memfs: the app's private scratch folder, in memory-backed
 * storage (/dev/shm, a tmpfs, when there is one), seeded with a copy of the
 * manifest's fs.source (opened beneath the app folder) and deleted when the
 * run ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"

static const char *scratch_parent(void)
{
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* Copy regular file `name` in folder `from` to `to`. */
static int copy_file(int from, const char *name, const char *to, mode_t mode)
{
    int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode & 0777) | 0600);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (n < 0) rc = -1;
    int saved = errno;
    close(in);
    if (close(out) != 0) rc = -1;
    errno = saved;
    return rc;
}

/* Copy the tree of the open folder `from` (taken: closed here) into the
 * existing folder `to`. Entries are opened relative to their folder and
 * never followed: symbolic links are copied as links (the sandbox decides
 * what following them means), so nothing outside `from` is read. */
static int copy_tree(int from, const char *to)
{
    DIR *d = fdopendir(from);
    if (!d) {
        close(from);
        return -1;
    }
    struct dirent *ent;
    int rc = 0;
    while (!rc && (ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        char dst[PATH_MAX];
        if (snprintf(dst, sizeof dst, "%s/%s", to, ent->d_name) >= (int)sizeof dst) {
            errno = ENAMETOOLONG;
            rc = -1;
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = -1;
            } else if (mkdir(dst, (st.st_mode & 0777) | 0700) != 0) {
                close(sub);
                rc = -1;
            } else {
                rc = copy_tree(sub, dst);
            }
        } else if (S_ISREG(st.st_mode)) {
            rc = copy_file(dirfd(d), ent->d_name, dst, st.st_mode);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(dirfd(d), ent->d_name, target, sizeof target - 1);
            if (n < 0) rc = -1;
            else {
                target[n] = 0;
                rc = symlink(target, dst);
            }
        }
        /* Sockets, FIFOs and devices are not app data: left out. */
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

char *run_scratch_create(int source)
{
    char *path = malloc(PATH_MAX);
    if (!path) return NULL;
    snprintf(path, PATH_MAX, "%s/qyvol-memfs-XXXXXX", scratch_parent());
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    int from = source < 0 ? -1 : openat(source, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (source >= 0 && (from < 0 || copy_tree(from, path) != 0)) {
        int saved = errno;
        run_scratch_remove(path);
        free(path);
        errno = saved;
        return NULL;
    }
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

void run_scratch_remove(const char *path)
{
    nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}
