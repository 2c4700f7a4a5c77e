/*
 * host.h — the `spectest` module the official tests import from.
 */
#ifndef QYVOL_SPECTEST_HOST_H
#define QYVOL_SPECTEST_HOST_H

#include "qyvol/wasm.h"

/* Define spectest.print*, global_*, table and memory in the linker.
 * Returns false if an object could not be created. */
bool spec_define_host(qv_linker *linker, qv_store *store, bool verbose);

#endif
