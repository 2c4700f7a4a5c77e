/* sort: quicksort (median of three, insertion sort for short ranges,
 * recursion on the smaller side) of n pseudo-random 32-bit integers —
 * compares, swaps and data-dependent branches over linear memory. */
#include "kernel.h"

#define MAX_ELEMS (1u << 22)
static uint32_t v[MAX_ELEMS];

static void insertion_sort(uint32_t *a, int32_t lo, int32_t hi)
{
    for (int32_t i = lo + 1; i <= hi; i++) {
        uint32_t x = a[i];
        int32_t j = i - 1;
        while (j >= lo && a[j] > x) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = x;
    }
}

static inline void swap(uint32_t *a, int32_t i, int32_t j)
{
    uint32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
}

static void quicksort(uint32_t *a, int32_t lo, int32_t hi)
{
    while (hi - lo > 16) {
        int32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(a, mid, lo);
        if (a[hi] < a[lo]) swap(a, hi, lo);
        if (a[hi] < a[mid]) swap(a, hi, mid);
        uint32_t pivot = a[mid];
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap(a, i, j);
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

int32_t run(int32_t n)
{
    uint32_t count = n < 1 ? 1u : (uint32_t)n > MAX_ELEMS ? MAX_ELEMS : (uint32_t)n;
    uint32_t seed = 2463534242u;
    for (uint32_t i = 0; i < count; i++)
        v[i] = rng_next(&seed);
    quicksort(v, 0, (int32_t)count - 1);
    uint32_t check = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (i > 0 && v[i - 1] > v[i])
            return -1; /* not sorted */
        check = check * 31 + (v[i] >> 7);
    }
    return (int32_t)check;
}
