/*
 * read_file.h — reading a whole file named by a user or a manifest,
 * safely: only regular files (a FIFO would block the reader, /dev/zero
 * never end), opened without waiting for a FIFO's writer, read to their
 * end whatever st_size says (it can be wrong: /proc, a file growing), and
 * never past a maximum. Shared by the manifest loader and the `qyv`
 * commands that read modules.
 */
#ifndef QYVOL_MANIFEST_READ_FILE_H
#define QYVOL_MANIFEST_READ_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modules are big but not unbounded. */
#define QV_MAX_MODULE_BYTES ((size_t)1 << 30)

/* Open `path` (relative to `dirfd`, AT_FDCWD for the working folder) for
 * reading without blocking on a FIFO; -1 with errno set. */
int qv_open_for_reading(int dirfd, const char *path);

/* Read all of open file `fd` (not closed) into a new buffer of *len bytes
 * (NUL-terminated one past the end, for text). NULL on failure, with the
 * reason in why: "not a regular file (a FIFO)", "larger than N bytes", or
 * the system error. */
uint8_t *qv_read_fd(int fd, size_t max, size_t *len, char *why, size_t whylen);

/* Both, then close. */
uint8_t *qv_read_file(int dirfd, const char *path, size_t max, size_t *len, char *why, size_t whylen);

#endif
