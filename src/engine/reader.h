/*
 * reader.h — bounded reading of the WebAssembly binary format.
 *
 * A reader walks a byte range. Every read checks bounds and encoding; on the
 * first failure the reader records an error message and the offset (relative
 * to `base`, the start of the module) and all later reads fail too, so
 * callers may check `ok` once after a batch of reads.
 *
 * LEB128 decoding follows the spec: at most ceil(N/7) bytes for an N-bit
 * integer, the unused bits of the last byte must be zero (unsigned) or sign
 * copies (signed); padded encodings within that length are accepted.
 */
#ifndef QYVOL_ENGINE_READER_H
#define QYVOL_ENGINE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qe_reader {
    const uint8_t *base; /* start of the module, for offsets in errors */
    const uint8_t *p;
    const uint8_t *end;
    bool ok;
    const char *err;     /* static message of the first failure */
    size_t err_offset;
} qe_reader;

void qe_reader_init(qe_reader *r, const uint8_t *base, const uint8_t *start, const uint8_t *end);
/* Record a failure at the current position (first one wins). Returns false. */
bool qe_reader_fail(qe_reader *r, const char *msg);
static inline size_t qe_reader_offset(const qe_reader *r) { return (size_t)(r->p - r->base); }
static inline bool qe_reader_at_end(const qe_reader *r) { return r->p >= r->end; }

uint8_t qe_read_u8(qe_reader *r);
uint32_t qe_read_u32(qe_reader *r);   /* unsigned LEB128, 32 bits */
int32_t qe_read_s32(qe_reader *r);    /* signed LEB128, 32 bits */
int64_t qe_read_s33(qe_reader *r);    /* signed LEB128, 33 bits (block types) */
int64_t qe_read_s64(qe_reader *r);    /* signed LEB128, 64 bits */
uint64_t qe_read_u64(qe_reader *r);   /* unsigned LEB128, 64 bits */
uint32_t qe_read_f32_bits(qe_reader *r);
uint64_t qe_read_f64_bits(qe_reader *r);
/* Read `n` raw bytes; returns a pointer into the buffer or NULL. */
const uint8_t *qe_read_bytes(qe_reader *r, size_t n);
/* Read a name (u32 length + UTF-8 bytes, validated). */
const uint8_t *qe_read_name(qe_reader *r, uint32_t *len);

bool qe_utf8_valid(const uint8_t *s, size_t n);

#endif
