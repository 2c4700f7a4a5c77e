/*
 * reader.c — bounded reads and LEB128 decoding (see reader.h).
 *
 * Running out of bytes is "unexpected end of section or function": every
 * reader walks a section, a function body or a constant expression (the
 * module header is checked by the decoder itself).
 */
#include <string.h>

#include "reader.h"

static const char OUT_OF_BYTES[] = "unexpected end of section or function";

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
        qe_reader_fail(r, OUT_OF_BYTES);
        return 0;
    }
    return *r->p++;
}

/* Unsigned LEB128 of at most `bits` bits (32 or 64): at most ceil(bits/7)
 * bytes, and the last possible byte may only carry the value's top bits. */
static uint64_t read_uleb(qe_reader *r, unsigned bits)
{
    uint64_t result = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (r->p >= r->end) {
            qe_reader_fail(r, OUT_OF_BYTES);
            return 0;
        }
        uint8_t b = *r->p++;
        if (shift + 7 >= bits) {
            /* Checked in the reference decoder's order: unused bits, then
             * a continuation past the last possible byte. */
            unsigned used = bits - shift; /* value bits in this byte: 1..6 for 32 and 64 */
            if (((b & 0x7F) >> used) != 0) {
                qe_reader_fail(r, "integer too large");
                return 0;
            }
            if (b & 0x80) {
                qe_reader_fail(r, "integer representation too long");
                return 0;
            }
            return result | ((uint64_t)b << shift);
        }
        result |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return result;
    }
}

/* Signed LEB128 of at most `bits` bits (32, 33 or 64): in the last possible
 * byte, the bits above the value's sign bit must all copy it. */
static int64_t read_sleb(qe_reader *r, unsigned bits)
{
    uint64_t result = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (r->p >= r->end) {
            qe_reader_fail(r, OUT_OF_BYTES);
            return 0;
        }
        uint8_t b = *r->p++;
        if (shift + 7 >= bits) {
            unsigned used = bits - shift; /* value bits in this byte, sign included: 1..6 */
            uint8_t top = (uint8_t)((b & 0x7F) >> (used - 1)); /* the sign bit and the unused bits */
            if (top != 0 && top != (0x7F >> (used - 1))) {
                qe_reader_fail(r, "integer too large");
                return 0;
            }
            if (b & 0x80) {
                qe_reader_fail(r, "integer representation too long");
                return 0;
            }
            result |= (uint64_t)b << shift;
            if (shift + 7 < 64 && (b & 0x40)) result |= ~0ull << (shift + 7);
            return (int64_t)result;
        }
        result |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            if (b & 0x40) result |= ~0ull << (shift + 7);
            return (int64_t)result;
        }
    }
}

/* One-byte encodings are by far the most common: they skip the loop. */

uint32_t qe_read_u32(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return *r->p++;
    return (uint32_t)read_uleb(r, 32);
}

uint64_t qe_read_u64(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return *r->p++;
    return read_uleb(r, 64);
}

/* A single byte 0..0x7F holds a 7-bit two's complement value. */
static inline int64_t one_byte_signed(uint8_t b) { return (int64_t)b - ((b & 0x40) << 1); }

int32_t qe_read_s32(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return (int32_t)one_byte_signed(*r->p++);
    return (int32_t)read_sleb(r, 32);
}

int64_t qe_read_s33(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return one_byte_signed(*r->p++);
    return read_sleb(r, 33);
}

int64_t qe_read_s64(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return one_byte_signed(*r->p++);
    return read_sleb(r, 64);
}

/* The binary format stores floats little-endian, as do our targets. */
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
        qe_reader_fail(r, OUT_OF_BYTES);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

const uint8_t *qe_read_name(qe_reader *r, uint32_t *len)
{
    const uint8_t *at = r->p;
    uint32_t n = qe_read_u32(r);
    if (!r->ok) return NULL;
    /* Like the reference decoder, a length beyond the bytes left counted
     * from the length field itself is "length out of bounds"; one that
     * only overruns by the field's own size runs out of bytes instead. */
    if (n > (size_t)(r->end - at)) {
        r->p = at;
        qe_reader_fail(r, "length out of bounds");
        return NULL;
    }
    const uint8_t *s = qe_read_bytes(r, n);
    if (!s) return NULL;
    if (!qe_utf8_valid(s, n)) {
        r->p = at;
        qe_reader_fail(r, "malformed UTF-8 encoding");
        return NULL;
    }
    *len = n;
    return s;
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
            return false; /* a continuation byte, or 0xF8..0xFF */
        }
        if (len > n - i) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and code points past Unicode. */
        static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}
