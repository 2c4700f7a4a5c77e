/*
 * bench_load.c — the cost of a component against the same program as a
 * core module, in process, alternating the two in every round:
 *   build/bench/component-load MODULE.wasm COMPONENT.wasm [ROUNDS]
 * prints the medians of decoding + validating + compiling, of defining the
 * WASI host (preview 1 in a linker, WASI 0.2 in a qv_chost) and of
 * instantiating. `make bench-components` runs it on tests/components/guests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qyvol/component.h"
#include "qyvol/wasi.h"
#include "bench_util.h"

enum { LOAD, DEFINE, INSTANTIATE, PHASES };

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODULE.wasm COMPONENT.wasm [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 200;
    if (rounds < 1) rounds = 1;
    size_t nm, nc;
    unsigned char *mbytes = read_all(argv[1], &nm), *cbytes = read_all(argv[2], &nc);
    double *t[2][PHASES];
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < PHASES; p++) t[k][p] = calloc((size_t)rounds, sizeof(double));
    qv_wasi_config cfg = {.stdio_in_memory = true};
    char why[256];
    for (int r = 0; r < rounds; r++) {
        qv_trap *trap = NULL;
        double t0 = now_us();
        qv_module *m = qv_module_new(mbytes, nm, NULL);
        double t1 = now_us();
        qv_store *s = qv_store_new(NULL);
        qv_linker *l = qv_linker_new(s);
        qv_wasi *w = qv_wasi_new(&cfg, why, sizeof why);
        qv_wasi_define(w, l);
        double t2 = now_us();
        qv_instance *inst = qv_linker_instantiate(l, m, &trap, NULL);
        double t3 = now_us();
        if (!m || !inst) return fprintf(stderr, "%s does not instantiate\n", argv[1]), 1;
        t[0][LOAD][r] = t1 - t0, t[0][DEFINE][r] = t2 - t1, t[0][INSTANTIATE][r] = t3 - t2;
        qv_wasi_delete(w);
        qv_linker_delete(l);
        qv_store_delete(s);
        qv_module_delete(m);

        t0 = now_us();
        qv_component *c = qv_component_new(cbytes, nc, NULL);
        t1 = now_us();
        s = qv_store_new(NULL);
        w = qv_wasi_new(&cfg, why, sizeof why);
        qv_chost *h = qv_chost_new();
        qv_wasip2_define(w, h);
        t2 = now_us();
        qv_cinstance *ci = qv_cinstance_new(s, c, h, &trap, NULL);
        t3 = now_us();
        if (!c || !ci) return fprintf(stderr, "%s does not instantiate\n", argv[2]), 1;
        t[1][LOAD][r] = t1 - t0, t[1][DEFINE][r] = t2 - t1, t[1][INSTANTIATE][r] = t3 - t2;
        qv_cinstance_delete(ci);
        qv_chost_delete(h);
        qv_wasi_delete(w);
        qv_store_delete(s);
        qv_component_delete(c);
    }
    static const char *const names[PHASES] = {"decode+validate+compile", "define the WASI host", "instantiate"};
    printf("%d rounds, medians in microseconds: module / component (ratio)\n", rounds);
    for (int p = 0; p < PHASES; p++) {
        double a = median(t[0][p], rounds), b = median(t[1][p], rounds);
        printf("  %-24s %8.0f / %8.0f  (%.2fx)\n", names[p], a, b, b / a);
    }
    return 0;
}
