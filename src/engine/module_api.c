/*
 * module_api.c — qv_module: decode, validate and translate; introspection.
 */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

qv_module *qv_module_new(const uint8_t *bytes, size_t len, qv_error *err)
{
    if (err) {
        err->message[0] = 0;
        err->offset = 0;
        err->func_index = -1;
    }
    qe_module *m = qe_decode(bytes, len, err);
    if (!m) return NULL;
    if (!qe_validate(m, err)) {
        qe_module_free(m);
        return NULL;
    }
    qv_module *mod = calloc(1, sizeof *mod);
    if (mod) mod->funcs = calloc(m->ncodes + 1, sizeof *mod->funcs);
    if (!mod || !mod->funcs) {
        if (mod) free(mod);
        qe_module_free(m);
        if (err) snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    mod->m = m;
    if (!qe_image_prepare(m, &mod->image)) {
        if (err) snprintf(err->message, sizeof err->message, "out of memory");
        qv_module_delete(mod);
        return NULL;
    }
    for (uint32_t i = 0; i < m->ncodes; i++) {
        if (!qe_translate(m, i, &mod->funcs[i], err)) {
            qv_module_delete(mod);
            return NULL;
        }
    }
    return mod;
}

void qv_module_delete(qv_module *mod)
{
    if (!mod) return;
    for (uint32_t i = 0; i < mod->m->ncodes; i++) qe_compiled_free(&mod->funcs[i]);
    free(mod->funcs);
    qe_image_free(&mod->image);
    qe_module_free(mod->m);
    free(mod);
}

size_t qv_module_import_count(const qv_module *mod) { return mod->m->nimports; }

void qv_module_import(const qv_module *mod, size_t i, const char **module_name, const char **name,
                      qv_externkind *kind)
{
    const qe_import *im = &mod->m->imports[i];
    if (module_name) *module_name = im->module;
    if (name) *name = im->name;
    if (kind) *kind = (qv_externkind)im->kind;
}

qv_functype qv_module_import_functype(const qv_module *mod, size_t i)
{
    if (mod->m->imports[i].kind != QE_EXT_FUNC) return (qv_functype){0, 0, NULL};
    const qe_functype *t = &mod->m->types[mod->m->imports[i].u.typeidx];
    qv_functype r = {t->nparams, t->nresults, t->api_types};
    return r;
}

size_t qv_module_export_count(const qv_module *mod) { return mod->m->nexports; }

void qv_module_export(const qv_module *mod, size_t i, const char **name, qv_externkind *kind)
{
    if (name) *name = mod->m->exports[i].name;
    if (kind) *kind = (qv_externkind)mod->m->exports[i].kind;
}

qv_functype qv_module_export_functype(const qv_module *mod, size_t i)
{
    const qe_export *e = &mod->m->exports[i];
    if (e->kind != QE_EXT_FUNC) return (qv_functype){0, 0, NULL};
    const qe_functype *t = &mod->m->types[mod->m->func_types[e->index]];
    qv_functype r = {t->nparams, t->nresults, t->api_types};
    return r;
}

qv_limits qv_module_import_limits(const qv_module *mod, size_t i)
{
    const qe_import *im = &mod->m->imports[i];
    qv_limits l = {0, 0, false};
    const qe_limits *src = im->kind == QE_EXT_TABLE ? &im->u.table.lim : im->kind == QE_EXT_MEMORY ? &im->u.mem.lim : NULL;
    if (src) {
        l.min = src->min;
        l.max = src->max;
        l.has_max = src->has_max;
    }
    return l;
}

qv_valtype qv_module_import_table_elem(const qv_module *mod, size_t i)
{
    const qe_import *im = &mod->m->imports[i];
    return im->kind == QE_EXT_TABLE ? (qv_valtype)im->u.table.elem : QV_FUNCREF;
}

qv_valtype qv_module_import_global(const qv_module *mod, size_t i, bool *mutable_)
{
    const qe_import *im = &mod->m->imports[i];
    bool global = im->kind == QE_EXT_GLOBAL;
    if (mutable_) *mutable_ = global && im->u.global.mut;
    return global ? (qv_valtype)im->u.global.type : QV_I32;
}
