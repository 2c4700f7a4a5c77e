/*
 * image.h — a module's linear memory as its data segments leave it at
 * instantiation, prepared once when the module is loaded.
 *
 * Replaying the active data segments means evaluating each offset
 * expression and checking bounds for every instance; the image is the
 * result of doing that once: runs of bytes at fixed offsets, adjacent
 * segments merged, later segments already written over earlier ones. An
 * instance then starts with one memcpy per run into its (zeroed) memory.
 *
 * Large images (QE_IMAGE_MAP_MIN bytes and more) are also put in a sealed
 * memfd once per process, and mapped copy-on-write over the instance's
 * memory instead of copied: an instance then pays only for the pages it
 * touches, and releasing its memory drops them in one call (memory.c).
 *
 * A module gets an image when the result cannot depend on the instance:
 * its memory 0 is its own (not imported), every active segment targets it
 * with an i32.const offset, and every segment fits in the memory's minimum
 * size (otherwise instantiation must trap after the segments before the
 * failing one, which the ordinary replay does).
 */
#ifndef QYVOL_ENGINE_IMAGE_H
#define QYVOL_ENGINE_IMAGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "module.h"

typedef struct qe_image_run {
    uint32_t offset, len; /* where in memory 0, how many bytes */
    uint8_t *bytes;       /* into qe_image.bytes */
} qe_image_run;

/* At or above this many bytes an image is mapped rather than copied.
 * Measured (bench/README.md): mapping costs about 40 us whatever the size
 * (two mmap calls and the page faults of what is touched, on this VM),
 * copying 21 us at 256 KiB and 66 us at 1 MiB. */
#define QE_IMAGE_MAP_MIN ((size_t)640 << 10)

typedef struct qe_image {
    bool usable;          /* false: replay the segments */
    uint32_t nruns;
    qe_image_run *runs;
    uint8_t *bytes;
    /* For a large image: the page-aligned range of memory 0 it covers, and
     * its file, made on first use in each process (a replica forked from
     * the front does not inherit the front's descriptors). */
    bool mapped;
    uint64_t map_offset, map_len;
    pthread_mutex_t lock;
    int fd;
    pid_t fd_pid;
} qe_image;

/* Fills *img (usable or not); false only when out of memory. */
bool qe_image_prepare(const qe_module *m, qe_image *img);
void qe_image_free(qe_image *img);
/* Write the image into memory 0's bytes (zeroed, at least as large as the
 * module's minimum). */
void qe_image_apply(const qe_image *img, uint8_t *memory);
/* For a mapped image: its file in this process, or -1 if it cannot be
 * made (then copy the runs). */
int qe_image_file(qe_image *img);

#endif
