/*
 * read_file.c — see read_file.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest/read_file.h"

int qv_open_for_reading(int dirfd, const char *path)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -1;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

static const char *kind_of(mode_t mode)
{
    return S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
         : S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : "not a file";
}

uint8_t *qv_read_fd(int fd, size_t max, size_t *len, char *why, size_t whylen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s", strerror(EISDIR));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file (%s)", kind_of(st.st_mode));
        return NULL;
    }
    /* st_size is a hint for the first allocation only. */
    size_t cap = st.st_size > 0 && (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
    size_t n = 0;
    uint8_t *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap > max) break;
            size_t more = cap > max / 2 ? max + 1 : cap * 2;
            uint8_t *grown = realloc(buf, more + 1);
            if (!grown) break;
            buf = grown;
            cap = more;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            free(buf);
            return NULL;
        }
        if (got == 0) {
            if (n > max) break;
            buf[n] = 0;
            *len = n;
            return buf;
        }
        n += (size_t)got;
    }
    if (buf && n > max)
        snprintf(why, whylen, "larger than %zu bytes", max);
    else
        snprintf(why, whylen, "out of memory");
    free(buf);
    return NULL;
}

uint8_t *qv_read_file(int dirfd, const char *path, size_t max, size_t *len, char *why, size_t whylen)
{
    int fd = qv_open_for_reading(dirfd, path);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    uint8_t *buf = qv_read_fd(fd, max, len, why, whylen);
    close(fd);
    return buf;
}
