/*
 * fib.c — the demo program: freestanding C compiled to WebAssembly with no
 * imports, run by `qyv invoke build/examples/fib.wasm fib 30`.
 */
__attribute__((export_name("fib"))) int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* Sum of the first n primes, to show loops over memory. */
static unsigned char composite[1 << 20];

__attribute__((export_name("prime_sum"))) long long prime_sum(int n)
{
    long long sum = 0;
    int found = 0;
    for (int i = 2; i < (1 << 20) && found < n; i++) {
        if (composite[i]) continue;
        sum += i;
        found++;
        for (int j = i + i; j < (1 << 20); j += i) composite[j] = 1;
    }
    return sum;
}
