/*
 * image.c — see image.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image.h"

/* Segments closer than this are copied as one run (the zeros between
 * them included): one memcpy is cheaper than two for small gaps. */
#define MERGE_GAP 256
#define MERGE_ZEROS ((uint64_t)64 << 10)

/* The constant offset of an active segment, if it is an i32.const. */
static bool const_offset(const qe_module *m, qe_expr e, uint32_t *off)
{
    qe_instr_reader ir;
    qe_instr in;
    bool ok = false;
    qe_instr_reader_init(&ir, m, e.start, e.start + e.len);
    if (qe_instr_next(&ir, &in) && in.op == QE_OP_I32_CONST) {
        *off = (uint32_t)in.u.i32;
        ok = qe_instr_next(&ir, &in) && in.op == QE_OP_END;
    }
    qe_instr_reader_free(&ir);
    return ok;
}

typedef struct span {
    uint64_t start, end;
} span;

static int by_start(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

bool qe_image_prepare(const qe_module *m, qe_image *img)
{
    memset(img, 0, sizeof *img);
    img->fd = -1;
    pthread_mutex_init(&img->lock, NULL);
    if (m->nmems == 0 || m->nmem_imports > 0) return true;
    uint64_t limit = (uint64_t)m->mems[0].lim.min * 65536;
    /* Each active segment's offset, decoded once; spans for the non-empty. */
    uint32_t *offs = calloc(m->ndatas ? m->ndatas : 1, sizeof *offs);
    span *spans = calloc(m->ndatas ? m->ndatas : 1, sizeof *spans);
    if (!offs || !spans) {
        free(offs);
        free(spans);
        return false;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const qe_data *d = &m->datas[i];
        if (d->mode != QE_SEG_ACTIVE) continue;
        if (d->memory != 0 || !const_offset(m, d->offset, &offs[i]) || (uint64_t)offs[i] + d->len > limit) {
            free(offs);
            free(spans);
            return true;
        }
        if (d->len) spans[n++] = (span){offs[i], (uint64_t)offs[i] + d->len};
    }
    qsort(spans, n, sizeof *spans, by_start);
    /* Merge overlapping and nearby spans into runs. The zeros merged in
     * are kept below the segments' own bytes (plus MERGE_ZEROS), so that
     * an image is never much larger than the data a module carries: tiny
     * segments MERGE_GAP apart would otherwise make a module of a few
     * megabytes an image of hundreds, made at load before any limit. */
    uint64_t data_bytes = 0, gap_bytes = 0;
    for (uint32_t i = 0; i < n; i++) data_bytes += spans[i].end - spans[i].start;
    uint32_t nruns = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t gap = nruns && spans[i].start > spans[nruns - 1].end ? spans[i].start - spans[nruns - 1].end : 0;
        if (nruns && spans[i].start <= spans[nruns - 1].end + MERGE_GAP && gap_bytes + gap <= data_bytes + MERGE_ZEROS) {
            gap_bytes += gap;
            if (spans[i].end > spans[nruns - 1].end) spans[nruns - 1].end = spans[i].end;
        } else {
            spans[nruns++] = spans[i];
        }
    }
    size_t total = 0;
    for (uint32_t i = 0; i < nruns; i++) total += (size_t)(spans[i].end - spans[i].start);
    img->runs = calloc(nruns ? nruns : 1, sizeof *img->runs);
    img->bytes = calloc(total ? total : 1, 1);
    if (!img->runs || !img->bytes) {
        free(offs);
        free(spans);
        qe_image_free(img);
        return false;
    }
    size_t at = 0;
    for (uint32_t i = 0; i < nruns; i++) {
        img->runs[i] = (qe_image_run){(uint32_t)spans[i].start, (uint32_t)(spans[i].end - spans[i].start),
                                      img->bytes + at};
        at += img->runs[i].len;
    }
    img->nruns = nruns;
    /* Write the segments in order, so later ones win where they overlap. */
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const qe_data *d = &m->datas[i];
        uint32_t off = offs[i];
        if (d->mode != QE_SEG_ACTIVE || !d->len) continue;
        /* The run holding it: the last that starts at or before it. */
        uint32_t lo = 0, hi = nruns - 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo + 1) / 2;
            if (img->runs[mid].offset <= off) lo = mid;
            else hi = mid - 1;
        }
        uint32_t r = lo;
        memcpy(img->runs[r].bytes + (off - img->runs[r].offset), m->bytes + d->start, d->len);
    }
    free(offs);
    free(spans);
    img->usable = true;
    if (total >= QE_IMAGE_MAP_MIN) {
        /* Within the memory's minimum, which is a multiple of 64 KiB. */
        img->mapped = true;
        img->map_offset = img->runs[0].offset & ~(uint64_t)4095;
        const qe_image_run *last = &img->runs[nruns - 1];
        img->map_len = (((uint64_t)last->offset + last->len + 4095) & ~(uint64_t)4095) - img->map_offset;
    }
    return true;
}

static bool write_all(int fd, const uint8_t *p, size_t n, off_t at)
{
    while (n) {
        ssize_t put = pwrite(fd, p, n, at);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return false;
        p += put, n -= (size_t)put, at += put;
    }
    return true;
}

/* The image as a file covering [map_offset, map_offset + map_len): sparse
 * where no segment is, sealed so that nothing can change it. */
static int make_file(const qe_image *img)
{
    int fd = memfd_create("qyvol-memory-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    bool ok = ftruncate(fd, (off_t)img->map_len) == 0;
    for (uint32_t i = 0; ok && i < img->nruns; i++)
        ok = write_all(fd, img->runs[i].bytes, img->runs[i].len, (off_t)(img->runs[i].offset - img->map_offset));
    ok = ok && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

int qe_image_file(qe_image *img)
{
    if (!img->mapped) return -1;
    pid_t me = getpid();
    pthread_mutex_lock(&img->lock);
    if (img->fd_pid != me) {
        /* A descriptor from the parent (if any) is not ours to close. */
        img->fd = make_file(img);
        img->fd_pid = me;
    }
    int fd = img->fd;
    pthread_mutex_unlock(&img->lock);
    return fd;
}

void qe_image_free(qe_image *img)
{
    free(img->runs);
    free(img->bytes);
    if (img->fd >= 0 && img->fd_pid == getpid()) close(img->fd);
    pthread_mutex_destroy(&img->lock);
    memset(img, 0, sizeof *img);
    img->fd = -1;
}

void qe_image_apply(const qe_image *img, uint8_t *memory)
{
    for (uint32_t i = 0; i < img->nruns; i++) memcpy(memory + img->runs[i].offset, img->runs[i].bytes, img->runs[i].len);
}
