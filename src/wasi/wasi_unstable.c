/*
 * wasi_unstable.c — the `wasi_unstable` module (the ABI before preview 1):
 * the same functions as preview 1 except these four, whose constants or
 * structure layouts changed. Each is the preview 1 implementation with the
 * old layout.
 */
#include "wasi/host.h"

WASI_FN(unstable_fd_seek);
WASI_FN(unstable_fd_filestat_get);
WASI_FN(unstable_path_filestat_get);
WASI_FN(unstable_poll_oneoff);

const wasi_import wasi_unstable_imports[] = {
    {"fd_seek", "iIii:i", wasi_fn_unstable_fd_seek},
    {"fd_filestat_get", "ii:i", wasi_fn_unstable_fd_filestat_get},
    {"path_filestat_get", "iiiii:i", wasi_fn_unstable_path_filestat_get},
    {"poll_oneoff", "iiii:i", wasi_fn_unstable_poll_oneoff},
    {NULL, NULL, NULL},
};
