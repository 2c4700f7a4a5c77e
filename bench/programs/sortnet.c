/* sortnet: sorting networks. Blocks of 32 keys (with a payload each) are
 * sorted by Batcher's bitonic network, a fixed sequence of compare-and-
 * exchange steps on records, then merged pairwise into sorted runs; n
 * rounds over 16 Ki records, reshuffled between rounds. Branchy compares
 * of loaded values and swaps through memory, in small functions. */
#include "../kernels/kernel.h"

#define COUNT (16 * 1024)
#define BLOCK 32

typedef struct record { uint32_t key, payload; } record;
static record a[COUNT], b[COUNT];

static inline void exchange(record *x, record *y, int up)
{
    if ((x->key > y->key) == up) {
        record t = *x;
        *x = *y;
        *y = t;
    }
}

static void bitonic_block(record *r)
{
    for (int k = 2; k <= BLOCK; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1)
            for (int i = 0; i < BLOCK; i++) {
                int l = i ^ j;
                if (l > i) exchange(&r[i], &r[l], (i & k) == 0);
            }
}

static void merge(const record *x, int nx, const record *y, int ny, record *out)
{
    int i = 0, j = 0, o = 0;
    while (i < nx && j < ny) out[o++] = y[j].key < x[i].key ? y[j++] : x[i++];
    while (i < nx) out[o++] = x[i++];
    while (j < ny) out[o++] = y[j++];
}

int32_t run(int32_t n)
{
    uint32_t seed = 99991;
    for (int i = 0; i < COUNT; i++) a[i] = (record){rng_next(&seed), (uint32_t)i};
    uint32_t sum = 0;
    for (int32_t r = 0; r < n; r++) {
        for (int i = 0; i < COUNT; i += BLOCK) bitonic_block(&a[i]);
        /* Merge runs of 32 into runs of 128 (two passes), then check. */
        for (int i = 0; i < COUNT; i += 2 * BLOCK) merge(&a[i], BLOCK, &a[i + BLOCK], BLOCK, &b[i]);
        for (int i = 0; i < COUNT; i += 4 * BLOCK) merge(&b[i], 2 * BLOCK, &b[i + 2 * BLOCK], 2 * BLOCK, &a[i]);
        for (int i = 0; i < COUNT; i += 4 * BLOCK) {
            for (int k = 1; k < 4 * BLOCK; k++)
                if (a[i + k - 1].key > a[i + k].key) return -1;
            sum = rotr32(sum, 1) ^ a[i].payload ^ a[i + 4 * BLOCK - 1].key;
        }
        /* Reshuffle: new keys for a quarter of the records. */
        for (int i = (int)((uint32_t)r % 4); i < COUNT; i += 4) a[i].key = rng_next(&seed);
    }
    return (int32_t)sum;
}
