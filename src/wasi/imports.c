/*
 * imports.c — binding a module's WASI imports to host functions.
 *
 * Two ways: qv_wasi_define puts every WASI function in a linker (for
 * embedders that mix WASI with imports of their own), and qv_wasi_pre
 * resolves one module's imports once, so that a server making an instance
 * per request creates only the handful of host functions the module
 * imports instead of defining some two hundred names each time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi/host.h"

static const wasi_import *const groups[] = {
    wasi_args_imports, wasi_clock_imports, wasi_fd_imports, wasi_fdstat_imports,
    wasi_dir_imports,  wasi_path_imports,  wasi_poll_imports, wasi_sock_imports,
};

static const wasi_import *find_in(const wasi_import *table, const char *name)
{
    for (const wasi_import *imp = table; imp->name; imp++)
        if (!strcmp(name, imp->name)) return imp;
    return NULL;
}

/* The function `module`.`name` stands for, or NULL: wasi_unstable has its
 * own versions of the few whose ABI changed, the same ones otherwise. */
static const wasi_import *lookup(const char *module, const char *name)
{
    bool unstable = !strcmp(module, "wasi_unstable");
    if (!unstable && strcmp(module, "wasi_snapshot_preview1")) return NULL;
    const wasi_import *imp = unstable ? find_in(wasi_unstable_imports, name) : NULL;
    for (size_t g = 0; !imp && g < sizeof groups / sizeof *groups; g++) imp = find_in(groups[g], name);
    return imp;
}

/* Types from a signature such as "iiii:i" (I is i64); false if too long. */
static bool parse_sig(const char *sig, qv_valtype *types, size_t cap, uint32_t *np, uint32_t *nr)
{
    bool results = false;
    *np = *nr = 0;
    for (const char *s = sig; *s; s++) {
        if (*s == ':') {
            results = true;
            continue;
        }
        if (*np + *nr >= cap) return false;
        types[*np + *nr] = *s == 'I' ? QV_I64 : QV_I32;
        if (results) ++*nr;
        else ++*np;
    }
    return true;
}

static bool define(qv_linker *linker, const char *module, const wasi_import *imp, qv_wasi *w)
{
    qv_valtype types[16];
    uint32_t np, nr;
    if (!parse_sig(imp->sig, types, 16, &np, &nr)) return false;
    qv_functype type = {np, nr, types};
    return qv_linker_define_func(linker, module, imp->name, type, imp->fn, w);
}

bool qv_wasi_define(qv_wasi *w, qv_linker *linker)
{
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
        for (const wasi_import *imp = groups[g]; imp->name; imp++) {
            if (!define(linker, "wasi_snapshot_preview1", imp, w)) return false;
            if (!find_in(wasi_unstable_imports, imp->name) && !define(linker, "wasi_unstable", imp, w)) return false;
        }
    }
    for (const wasi_import *imp = wasi_unstable_imports; imp->name; imp++)
        if (!define(linker, "wasi_unstable", imp, w)) return false;
    return true;
}

/* ------------------------------------------------------------ qv_wasi_pre */

typedef struct resolved {
    qv_host_fn fn;
    uint32_t nparams, nresults;
    qv_valtype types[16];
} resolved;

struct qv_wasi_pre {
    const qv_module *module;
    size_t n;
    resolved fns[];
};

static bool same_type(qv_functype a, const resolved *r)
{
    if (a.nparams != r->nparams || a.nresults != r->nresults) return false;
    for (uint32_t i = 0; i < a.nparams + a.nresults; i++)
        if (a.types[i] != r->types[i]) return false;
    return true;
}

qv_wasi_pre *qv_wasi_pre_new(const qv_module *module, char *err, size_t errlen)
{
    size_t n = qv_module_import_count(module);
    qv_wasi_pre *pre = calloc(1, sizeof *pre + n * sizeof(resolved));
    if (!pre) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pre->module = module;
    pre->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *mod, *name;
        qv_externkind kind;
        qv_module_import(module, i, &mod, &name, &kind);
        const wasi_import *imp = kind == QV_EXTERN_FUNC ? lookup(mod, name) : NULL;
        resolved *r = &pre->fns[i];
        if (!imp || !parse_sig(imp->sig, r->types, 16, &r->nparams, &r->nresults)) {
            snprintf(err, errlen, "unknown import: %s.%s (only WASI functions are provided)", mod, name);
            free(pre);
            return NULL;
        }
        if (!same_type(qv_module_import_functype(module, i), r)) {
            snprintf(err, errlen, "incompatible import type: %s.%s is not imported with the type WASI gives it",
                     mod, name);
            free(pre);
            return NULL;
        }
        r->fn = imp->fn;
    }
    return pre;
}

void qv_wasi_pre_delete(qv_wasi_pre *pre) { free(pre); }

qv_instance *qv_wasi_pre_instantiate(const qv_wasi_pre *pre, qv_wasi *w, qv_store *store, qv_trap **trap,
                                     qv_error *err)
{
    if (trap) *trap = NULL;
    qv_extern small[64] = {0}, *ext = pre->n <= 64 ? small : calloc(pre->n, sizeof *ext);
    qv_instance *inst = NULL;
    if (!ext) goto nomem;
    for (size_t i = 0; i < pre->n; i++) {
        const resolved *r = &pre->fns[i];
        qv_functype type = {r->nparams, r->nresults, r->types};
        qv_func *f = qv_func_new(store, type, r->fn, w, NULL);
        if (!f) goto nomem;
        ext[i] = (qv_extern){.kind = QV_EXTERN_FUNC, .of.func = f};
    }
    inst = qv_instance_new(store, pre->module, ext, pre->n, trap, err);
    if (ext != small) free(ext);
    return inst;
nomem:
    if (ext != small) free(ext);
    if (err) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->offset = 0;
        err->func_index = -1;
    }
    return NULL;
}
