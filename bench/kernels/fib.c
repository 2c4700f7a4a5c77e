/* fib: naive doubly recursive Fibonacci — measures call/return overhead. */
#include "kernel.h"

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int32_t run(int32_t n)
{
    return (int32_t)fib((uint32_t)n);
}
