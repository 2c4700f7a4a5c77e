/* sieve: sieve of Eratosthenes over a 1 MiB byte array, repeated n times —
 * byte loads/stores in strided loops over linear memory. */
#include "kernel.h"

#define SIEVE_SIZE (1u << 20)
static uint8_t composite[SIEVE_SIZE];

int32_t run(int32_t n)
{
    uint32_t total = 0;
    for (int32_t rep = 0; rep < n; rep++) {
        /* Vary the limit a little so no repetition is a copy of the last. */
        uint32_t limit = SIEVE_SIZE - (uint32_t)(rep & 255);
        for (uint32_t i = 0; i < limit; i++)
            composite[i] = 0;
        for (uint32_t i = 2; i * i < limit; i++)
            if (!composite[i])
                for (uint32_t j = i * i; j < limit; j += i)
                    composite[j] = 1;
        uint32_t count = 0;
        for (uint32_t i = 2; i < limit; i++)
            count += !composite[i];
        total = total * 31 + count;
    }
    return (int32_t)total;
}
