/*
 * host.h — the `spectest` host module that the official scripts import
 * from: print functions, four immutable globals, a table and a memory.
 */
#ifndef QYVOL_SPECTEST_HOST_H
#define QYVOL_SPECTEST_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "qyvol/wasm.h"

/* Define everything under the module name "spectest" in `linker`, creating
 * the objects in `store`. With `verbose` the print functions print their
 * arguments. Returns false with `why` filled if an object cannot be made. */
bool spec_define_host(qv_linker *linker, qv_store *store, bool verbose, char *why, size_t why_size);

#endif
