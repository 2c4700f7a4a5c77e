/*
 * reader.c — bounded reads and LEB128 decoding (see reader.h).
 */
#include <string.h>

#include "reader.h"

void qe_reader_init(qe_reader *r, const uint8_t *base, const uint8_t *start, const uint8_t *end)
{
    r->base = base;
    r->p = start;
    r->end = end;
    r->ok = true;
    r->err = NULL;
    r->err_offset = 0;
}

bool qe_reader_fail(qe_reader *r, const char *msg)
{
    if (r->ok) {
        r->ok = false;
        r->err = msg;
        r->err_offset = qe_reader_offset(r);
    }
    r->p = r->end; /* every later read fails */
    return false;
}

uint8_t qe_read_u8(qe_reader *r)
{
    if (r->p >= r->end) {
        qe_reader_fail(r, "unexpected end");
        return 0;
    }
    return *r->p++;
}

/* Unsigned LEB128 of at most `bits` bits. */
static uint64_t read_uleb(qe_reader *r, unsigned bits)
{
    uint64_t result = 0;
    unsigned shift = 0;
    for (;;) {
        if (r->p >= r->end) {
            qe_reader_fail(r, "unexpected end");
            return 0;
        }
        uint8_t b = *r->p++;
        if (shift + 7 >= bits) {
            /* last possible byte: no continuation, unused bits zero */
            if (b & 0x80) {
                qe_reader_fail(r, "integer representation too long");
                return 0;
            }
            unsigned used = bits - shift;
            if (used < 7 && (b >> used) != 0) {
                qe_reader_fail(r, "integer too large");
                return 0;
            }
            return result | ((uint64_t)b << shift);
        }
        result |= (uint64_t)(b & 0x7F) << shift;
        shift += 7;
        if (!(b & 0x80)) return result;
    }
}

/* Signed LEB128 of at most `bits` bits. */
static int64_t read_sleb(qe_reader *r, unsigned bits)
{
    uint64_t result = 0;
    unsigned shift = 0;
    for (;;) {
        if (r->p >= r->end) {
            qe_reader_fail(r, "unexpected end");
            return 0;
        }
        uint8_t b = *r->p++;
        if (shift + 7 >= bits) {
            if (b & 0x80) {
                qe_reader_fail(r, "integer representation too long");
                return 0;
            }
            /* The bits above the value's sign bit must copy it. */
            unsigned used = bits - shift; /* value bits in this byte, 1..7 */
            if (used < 7) {
                int8_t sb = (int8_t)(b << 1) >> 1;         /* sign-extend 7 bits */
                int8_t top = (int8_t)(sb >> (used - 1));   /* sign and unused bits */
                if (top != 0 && top != -1) {
                    qe_reader_fail(r, "integer too large");
                    return 0;
                }
            }
            result |= (uint64_t)(b & 0x7F) << shift;
            shift += 7;
            if (shift < 64 && (b & 0x40)) result |= ~0ull << shift;
            return (int64_t)result;
        }
        result |= (uint64_t)(b & 0x7F) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40)) result |= ~0ull << shift;
            return (int64_t)result;
        }
    }
}

uint32_t qe_read_u32(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return *r->p++; /* the common case */
    return (uint32_t)read_uleb(r, 32);
}
int32_t qe_read_s32(qe_reader *r) { return (int32_t)read_sleb(r, 32); }
int64_t qe_read_s33(qe_reader *r) { return read_sleb(r, 33); }
int64_t qe_read_s64(qe_reader *r) { return read_sleb(r, 64); }
uint64_t qe_read_u64(qe_reader *r) { return read_uleb(r, 64); }

uint32_t qe_read_f32_bits(qe_reader *r)
{
    const uint8_t *p = qe_read_bytes(r, 4);
    uint32_t v = 0;
    if (p) memcpy(&v, p, 4);
    return v;
}

uint64_t qe_read_f64_bits(qe_reader *r)
{
    const uint8_t *p = qe_read_bytes(r, 8);
    uint64_t v = 0;
    if (p) memcpy(&v, p, 8);
    return v;
}

const uint8_t *qe_read_bytes(qe_reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        qe_reader_fail(r, "unexpected end");
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

const uint8_t *qe_read_name(qe_reader *r, uint32_t *len)
{
    uint32_t n = qe_read_u32(r);
    if (!r->ok) return NULL;
    if ((size_t)(r->end - r->p) < n) {
        qe_reader_fail(r, "length out of bounds");
        return NULL;
    }
    const uint8_t *p = r->p;
    if (!qe_utf8_valid(p, n)) {
        qe_reader_fail(r, "malformed UTF-8 encoding");
        return NULL;
    }
    r->p += n;
    *len = n;
    return p;
}

bool qe_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len;
        if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            len = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            len = 4;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}
