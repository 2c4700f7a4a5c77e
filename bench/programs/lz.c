/* lz: an LZ77 compressor and decompressor (hash chains over a 4 KiB
 * window, greedy matching, literal runs and (length, distance) tokens in
 * a byte stream). 64 KiB of text made of words, with the repetition of
 * real text, is compressed, decompressed and checked n times. */
#include "../kernels/kernel.h"

#define IN_SIZE (64 * 1024)
#define WINDOW 4096
#define HASH_BITS 12
#define MIN_MATCH 4
#define MAX_MATCH 66
#define MAX_CHAIN 16

static uint8_t input[IN_SIZE];
static uint8_t packed[IN_SIZE + IN_SIZE / 64 + 64];
static uint8_t output[IN_SIZE];
static int32_t head[1 << HASH_BITS];
static int32_t prev[IN_SIZE];

static void make_text(void)
{
    static const char *const words[] = {"the", "of", "and", "runtime", "module", "memory", "instance",
                                        "function", "a", "to", "table", "value", "stack", "call",
                                        "return", "branch", "import", "export", "global", "trap"};
    uint32_t seed = 12345;
    int len = 0;
    while (len < IN_SIZE) {
        const char *w = words[rng_next(&seed) % 20];
        while (*w && len < IN_SIZE) input[len++] = (uint8_t)*w++;
        if (len < IN_SIZE) input[len++] = (rng_next(&seed) % 11) ? ' ' : '\n';
    }
}

static uint32_t hash4(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Tokens: t < 0x80: a run of t + 1 literal bytes follows; t >= 0x80: a
 * match of (t & 0x7F) + MIN_MATCH bytes, then two bytes of distance - 1. */
static int compress(const uint8_t *in, int n, uint8_t *out)
{
    for (int i = 0; i < (1 << HASH_BITS); i++) head[i] = -1;
    int o = 0, lit_start = 0, i = 0;
    while (i < n) {
        int best_len = 0, best_dist = 0;
        if (i + MIN_MATCH <= n) {
            uint32_t h = hash4(in + i);
            int cand = head[h], chain = 0;
            while (cand >= 0 && i - cand <= WINDOW && chain++ < MAX_CHAIN) {
                int len = 0, max = n - i < MAX_MATCH ? n - i : MAX_MATCH;
                while (len < max && in[cand + len] == in[i + len]) len++;
                if (len > best_len) best_len = len, best_dist = i - cand;
                cand = prev[cand];
            }
            prev[i] = head[h];
            head[h] = i;
        }
        if (best_len >= MIN_MATCH) {
            while (lit_start < i) {        /* flush literals, 128 at most per run */
                int run = i - lit_start > 128 ? 128 : i - lit_start;
                out[o++] = (uint8_t)(run - 1);
                for (int k = 0; k < run; k++) out[o++] = in[lit_start + k];
                lit_start += run;
            }
            out[o++] = (uint8_t)(0x80 | (best_len - MIN_MATCH));
            out[o++] = (uint8_t)((best_dist - 1) & 0xFF);
            out[o++] = (uint8_t)((best_dist - 1) >> 8);
            for (int k = 1; k < best_len; k++) {   /* index the skipped positions */
                int j = i + k;
                if (j + MIN_MATCH <= n) {
                    uint32_t h = hash4(in + j);
                    prev[j] = head[h];
                    head[h] = j;
                }
            }
            i += best_len;
            lit_start = i;
        } else {
            i++;
        }
    }
    while (lit_start < n) {
        int run = n - lit_start > 128 ? 128 : n - lit_start;
        out[o++] = (uint8_t)(run - 1);
        for (int k = 0; k < run; k++) out[o++] = in[lit_start + k];
        lit_start += run;
    }
    return o;
}

static int decompress(const uint8_t *in, int n, uint8_t *out)
{
    int i = 0, o = 0;
    while (i < n) {
        uint8_t t = in[i++];
        if (t < 0x80) {
            for (int k = 0; k <= t; k++) out[o++] = in[i++];
        } else {
            int len = (t & 0x7F) + MIN_MATCH;
            int dist = (in[i] | in[i + 1] << 8) + 1;
            i += 2;
            for (int k = 0; k < len; k++, o++) out[o] = out[o - dist];
        }
    }
    return o;
}

int32_t run(int32_t n)
{
    make_text();
    uint32_t sum = 0;
    for (int32_t r = 0; r < n; r++) {
        input[(uint32_t)r * 7919u % IN_SIZE] ^= (uint8_t)r;   /* a different input each round */
        int packed_len = compress(input, IN_SIZE, packed);
        int len = decompress(packed, packed_len, output);
        if (len != IN_SIZE) return -1;
        for (int i = 0; i < IN_SIZE; i += 64)
            if (output[i] != input[i]) return -2;
        sum = rotr32(sum, 7) + (uint32_t)packed_len + output[(uint32_t)r % IN_SIZE];
    }
    return (int32_t)sum;
}
