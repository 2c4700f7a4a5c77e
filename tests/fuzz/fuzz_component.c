/*
 * fuzz_component.c — libFuzzer harness for components: any input goes
 * through decoding and validation (nested core modules compiled); valid
 * components are instantiated against the WASI 0.2 host (no preopens,
 * stdio in memory) and their wasi:cli/run export, if any, runs under a
 * fuel limit. Any crash, sanitizer report, leak or hang is a bug.
 */
#include <stdlib.h>
#include <string.h>

#include "qyvol/component.h"
#include "qyvol/wasi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_error err;
    qv_component *c = qv_component_new(data, size, &err);
    if (!c) return 0;
    qv_wasi_config cfg = {.stdio_in_memory = true, .max_output = 1 << 16};
    char why[256];
    qv_wasi *w = qv_wasi_new(&cfg, why, sizeof why);
    qv_chost *host = qv_chost_new();
    qv_store *store = qv_store_new(&(qv_store_limits){.max_memory_pages = 256});
    if (w && host && store && qv_wasip2_define(w, host)) {
        qv_store_set_fuel(store, 100000);
        qv_trap *trap = NULL;
        qv_cinstance *ci = qv_cinstance_new(store, c, host, &trap, &err);
        if (ci) qv_wasip2_run(w, ci, &trap);
        if (trap) qv_trap_delete(trap);
        qv_cinstance_delete(ci);
    }
    qv_store_delete(store);
    qv_chost_delete(host);
    qv_wasi_delete(w);
    qv_component_delete(c);
    return 0;
}
