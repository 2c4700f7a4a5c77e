/*
 * bundle_compare.c — a bundle's entries against the folder it was
 * unpacked into (bundle_compare.h), read with libarchive from memory and
 * the folder through one directory descriptor: no path of the bundle is
 * followed through a symbolic link at its end, and nothing is written.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle_compare.h"

static bool differ(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

/* The file at name under dirfd against the entry's data, block by block. */
static bool same_file(struct archive *in, struct archive_entry *e, int dirfd, const char *name, char *why, size_t whylen)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return differ(why, whylen, "%s: %s", name, errno == ENOENT ? "missing" : strerror(errno));
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (!ok) differ(why, whylen, "%s: no longer a file", name);
    else if (archive_entry_size_is_set(e) && st.st_size != archive_entry_size(e))
        ok = differ(why, whylen, "%s: %lld bytes, the bundle's are %lld", name, (long long)st.st_size,
                    (long long)archive_entry_size(e));
    static _Thread_local char want[65536], have[65536];
    while (ok) {
        la_ssize_t n = archive_read_data(in, want, sizeof want);
        if (n < 0) {
            ok = differ(why, whylen, "%s: cannot read it from the bundle: %s", name, archive_error_string(in));
            break;
        }
        ssize_t got = 0;
        while (got < n) {
            ssize_t r = read(fd, have + got, (size_t)(n - got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += r;
        }
        if (got != n || memcmp(want, have, (size_t)n)) ok = differ(why, whylen, "%s: its bytes differ from the bundle's", name);
        if (n == 0) break;
    }
    close(fd);
    return ok;
}

static bool same_entry(struct archive *in, struct archive_entry *e, int dirfd, char *why, size_t whylen)
{
    const char *name = archive_entry_pathname(e);
    if (!name || !*name) return differ(why, whylen, "an entry of the bundle has no name");
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return differ(why, whylen, "%s: %s", name, errno == ENOENT ? "missing" : strerror(errno));
    if (archive_entry_hardlink(e)) /* its bytes are its target's, compared there */
        return S_ISREG(st.st_mode) || differ(why, whylen, "%s: no longer a file", name);
    switch (archive_entry_filetype(e)) {
    case AE_IFDIR: return S_ISDIR(st.st_mode) || differ(why, whylen, "%s: no longer a folder", name);
    case AE_IFLNK: {
        char target[PATH_MAX];
        ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(dirfd, name, target, sizeof target - 1) : -1;
        if (n >= 0) target[n] = '\0';
        const char *want = archive_entry_symlink(e);
        return (n >= 0 && want && !strcmp(target, want)) ||
               differ(why, whylen, "%s: no longer the link to %s", name, want ? want : "?");
    }
    case AE_IFREG: return same_file(in, e, dirfd, name, why, whylen);
    default: return differ(why, whylen, "%s: the bundle holds an entry of a kind no bundle has", name);
    }
}

bool bundle_matches_folder(const uint8_t *data, size_t len, const char *dir, char *why, size_t whylen)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return differ(why, whylen, "%s: %s", dir, errno == ENOENT ? "missing" : strerror(errno));
    struct archive *in = archive_read_new();
    bool ok = in != NULL;
    if (!ok) differ(why, whylen, "out of memory");
    if (ok && (archive_read_support_format_tar(in) != ARCHIVE_OK || archive_read_open_memory(in, data, len) != ARCHIVE_OK))
        ok = differ(why, whylen, "not a bundle: %s", archive_error_string(in));
    while (ok) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) ok = differ(why, whylen, "not a valid bundle: %s", archive_error_string(in));
        else ok = same_entry(in, e, dirfd, why, whylen);
    }
    if (in) archive_read_free(in);
    close(dirfd);
    return ok;
}
