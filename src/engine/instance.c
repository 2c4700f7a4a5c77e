/*
 * instance.c — instantiation (spec 2.0, "Instantiation"): check imports,
 * allocate the module's functions, tables, memories and globals, then run
 * the active segments and the start function. Effects on imported tables
 * and memories of segments applied before a trap remain, as specified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static void link_error(qv_error *err, const qe_import *im, const char *what)
{
    if (err) {
        snprintf(err->message, sizeof err->message, "%s: %s.%s", what, im->module, im->name);
        err->offset = 0;
        err->func_index = -1;
    }
}

/* Limits subtyping: `actual` may be used where `expected` is required. */
static bool limits_match(qv_limits actual, qe_limits expected)
{
    if (actual.min < expected.min) return false;
    if (!expected.has_max) return true;
    return actual.has_max && actual.max <= expected.max;
}

static bool import_matches(const qe_module *m, const qe_import *im, const qv_extern *ext)
{
    if ((uint8_t)ext->kind != im->kind || !ext->of.func) return false; /* any member: they share storage */
    switch (im->kind) {
    case QE_EXT_FUNC: return ext->of.func->type_id == m->types[im->u.typeidx].id;
    case QE_EXT_TABLE:
        return ext->of.table->elem_type == im->u.table.elem &&
               limits_match(qv_table_limits(ext->of.table), im->u.table.lim);
    case QE_EXT_MEMORY: return limits_match(qv_memory_limits(ext->of.memory), im->u.mem.lim);
    case QE_EXT_GLOBAL:
        return ext->of.global->type == im->u.global.type && ext->of.global->mut == im->u.global.mut;
    }
    return false;
}

void qe_instance_free(qv_instance *inst)
{
    /* Stop at the zeroed entry after the last segment instead of asking the
     * module for its count: the embedder may delete the module before the
     * store. Segments are filled in order, so a partially built instance
     * stops at its first unallocated one. */
    for (uint32_t i = 0; inst->elems[i].refs; i++) free(inst->elems[i].refs);
    free(inst); /* and its arrays: one block (alloc_instance) */
}

/* What alloc_arrays takes, for the store's budget. */
static uint64_t arrays_bytes(const qe_module *m)
{
    return sizeof(qv_instance) + ((uint64_t)m->nfuncs + m->ntables + m->nmems + m->nglobals + 4) * sizeof(void *) +
           ((uint64_t)m->nelems + 1) * sizeof(qe_elem_inst) + ((uint64_t)m->ndatas + 1) * sizeof(qe_data_inst) +
           ((uint64_t)m->nexports + 1) * (sizeof(qv_extern) + sizeof(char *)) +
           ((uint64_t)m->ncodes + 1) * sizeof(qv_func);
}

/* Each of the instance's arrays is carved from one block after the
 * instance itself (one calloc per instance rather than ten: a server makes
 * an instance per request). An array of n + 1 entries of size `each`,
 * aligned for any of them. */
static size_t carve(size_t *at, uint64_t n, size_t each)
{
    size_t offset = (*at + 15) & ~(size_t)15;
    *at = offset + (size_t)(n + 1) * each;
    return offset;
}

static qv_instance *alloc_instance(const qe_module *m)
{
    size_t at = sizeof(qv_instance);
    size_t funcs = carve(&at, m->nfuncs, sizeof(qv_func *)), tables = carve(&at, m->ntables, sizeof(qv_table *)),
           mems = carve(&at, m->nmems, sizeof(qv_memory *)), globals = carve(&at, m->nglobals, sizeof(qv_global *)),
           elems = carve(&at, m->nelems, sizeof(qe_elem_inst)), datas = carve(&at, m->ndatas, sizeof(qe_data_inst)),
           exports = carve(&at, m->nexports, sizeof(qv_extern)), names = carve(&at, m->nexports, sizeof(char *)),
           own = carve(&at, m->ncodes, sizeof(qv_func));
    char *block = calloc(1, at);
    if (!block) return NULL;
    qv_instance *inst = (qv_instance *)block;
    inst->funcs = (qv_func **)(block + funcs);
    inst->tables = (qv_table **)(block + tables);
    inst->mems = (qv_memory **)(block + mems);
    inst->globals = (qv_global **)(block + globals);
    inst->elems = (qe_elem_inst *)(block + elems);
    inst->datas = (qe_data_inst *)(block + datas);
    inst->exports = (qv_extern *)(block + exports);
    inst->export_names = (char **)(block + names);
    inst->own_funcs = (qv_func *)(block + own);
    return inst;
}

static void oom(qv_error *err)
{
    if (err) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->offset = 0;
        err->func_index = -1;
    }
}

/* Allocate everything the module defines; false on allocation failure. */
static bool allocate(qv_instance *inst, qv_store *s, const qe_module *m, qv_error *err)
{
    for (uint32_t i = 0; i < m->ncodes; i++) {
        uint32_t idx = m->nfunc_imports + i;
        qv_func *f = &inst->own_funcs[i];
        f->kind = QE_FUNC_WASM;
        f->type = &m->types[m->func_types[idx]];
        f->type_id = f->type->id;
        f->store = s;
        f->inst = inst;
        f->code = &inst->module->funcs[i];
        f->index = idx;
        inst->funcs[idx] = f;
    }
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
        if (!(inst->tables[i] = qe_table_create(s, m->tables[i].elem, m->tables[i].lim, NULL, err))) return false;
    for (uint32_t i = m->nmem_imports; i < m->nmems; i++)
        if (!(inst->mems[i] = qe_memory_create(s, m->mems[i].lim, err))) return false;
    inst->mem0 = m->nmems ? inst->mems[0] : NULL;
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        const qe_global *g = &m->globals[i - m->nglobal_imports];
        qe_slot v;
        qe_eval_const(inst, g->init, &v);
        if (!qe_store_charge(s, sizeof(qv_global), "a global", err)) return false;
        if (!(inst->globals[i] = qe_global_create(s, g->type.type, g->type.mut, v))) {
            oom(err);
            return false;
        }
    }
    for (uint32_t i = 0; i < m->nelems; i++) {
        const qe_elem *e = &m->elems[i];
        qe_elem_inst *ei = &inst->elems[i];
        if (!qe_store_charge(s, ((uint64_t)e->count + 1) * sizeof(void *), "an element segment", err)) return false;
        if (!(ei->refs = calloc(e->count + 1, sizeof(void *)))) {
            oom(err);
            return false;
        }
        ei->count = e->count;
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->items[k].is_expr) {
                qe_slot v;
                qe_eval_const(inst, e->items[k].expr, &v);
                ei->refs[k] = v.ref;
            } else {
                ei->refs[k] = inst->funcs[e->items[k].funcidx];
            }
        }
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        inst->datas[i].bytes = m->bytes + m->datas[i].start;
        inst->datas[i].len = m->datas[i].len;
    }
    for (uint32_t i = 0; i < m->nexports; i++) {
        const qe_export *e = &m->exports[i];
        qv_extern *x = &inst->exports[i];
        x->kind = (qv_externkind)e->kind;
        switch (e->kind) {
        case QE_EXT_FUNC: x->of.func = inst->funcs[e->index]; break;
        case QE_EXT_TABLE: x->of.table = inst->tables[e->index]; break;
        case QE_EXT_MEMORY: x->of.memory = inst->mems[e->index]; break;
        case QE_EXT_GLOBAL: x->of.global = inst->globals[e->index]; break;
        }
        inst->export_names[i] = e->name;
    }
    inst->nexports = m->nexports;
    return true;
}

/* Active segments, then the start function. Returns a trap or NULL. */
static qv_trap *initialize(qv_instance *inst, qv_store *s, const qe_module *m)
{
    for (uint32_t i = 0; i < m->nelems; i++) {
        const qe_elem *e = &m->elems[i];
        qe_elem_inst *ei = &inst->elems[i];
        if (e->mode == QE_SEG_ACTIVE) {
            qe_slot off;
            qe_eval_const(inst, e->offset, &off);
            qv_table *t = inst->tables[e->table];
            if ((uint64_t)off.i32 + ei->count > t->size)
                return qv_trap_new(QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS, NULL);
            if (ei->count) memcpy(t->elems + off.i32, ei->refs, ei->count * sizeof(void *));
        }
        if (e->mode != QE_SEG_PASSIVE) ei->count = 0;
    }
    qe_image *image = (qe_image *)&inst->module->image; /* its file is made on first use */
    if (image->usable) {
        /* Prepared when the module was loaded: the same bytes the loop
         * below would write, and no segment can be out of bounds. */
        qv_memory *mem = inst->mems[0];
        int fd = qe_image_file(image);
        if (fd < 0 || !qe_memory_map_image(mem, fd, image->map_offset, image->map_len)) {
            if (mem->broken) return qv_trap_new(QV_TRAP_HOST, "cannot map the module's memory image");
            qe_image_apply(image, mem->data);
        }
        for (uint32_t i = 0; i < m->ndatas; i++)
            if (m->datas[i].mode == QE_SEG_ACTIVE) inst->datas[i].len = 0;
    }
    for (uint32_t i = 0; !image->usable && i < m->ndatas; i++) {
        const qe_data *d = &m->datas[i];
        qe_data_inst *di = &inst->datas[i];
        if (d->mode != QE_SEG_ACTIVE) continue;
        qe_slot off;
        qe_eval_const(inst, d->offset, &off);
        qv_memory *mem = inst->mems[d->memory];
        if ((uint64_t)off.i32 + di->len > mem->size) return qv_trap_new(QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS, NULL);
        if (di->len) memcpy(mem->data + off.i32, di->bytes, di->len);
        di->len = 0;
    }
    if (m->has_start) return qe_invoke(s, inst->funcs[m->start], NULL, NULL);
    return NULL;
}

qv_instance *qv_instance_new(qv_store *s, const qv_module *module, const qv_extern *imports, size_t nimports,
                             qv_trap **trap, qv_error *err)
{
    const qe_module *m = module->m;
    if (trap) *trap = NULL;
    if (nimports != m->nimports) {
        if (err) {
            snprintf(err->message, sizeof err->message, "module needs %u imports, %zu given", m->nimports, nimports);
            err->offset = 0;
            err->func_index = -1;
        }
        return NULL;
    }
    for (uint32_t i = 0; i < m->nimports; i++) {
        if (!import_matches(m, &m->imports[i], &imports[i])) {
            link_error(err, &m->imports[i], "incompatible import type");
            return NULL;
        }
    }
    if (!qe_store_charge(s, arrays_bytes(m), "an instance", err)) return NULL;
    qv_instance *inst = alloc_instance(m);
    if (!inst) {
        oom(err);
        return NULL;
    }
    inst->store = s;
    inst->module = module;
    if (!qe_store_track(s, QE_OBJ_INSTANCE, inst)) {
        qe_instance_free(inst);
        oom(err);
        return NULL;
    }
    uint32_t fi = 0, ti = 0, mi = 0, gi = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        switch (imports[i].kind) {
        case QV_EXTERN_FUNC: inst->funcs[fi++] = imports[i].of.func; break;
        case QV_EXTERN_TABLE: inst->tables[ti++] = imports[i].of.table; break;
        case QV_EXTERN_MEMORY: inst->mems[mi++] = imports[i].of.memory; break;
        case QV_EXTERN_GLOBAL: inst->globals[gi++] = imports[i].of.global; break;
        }
    }
    if (!allocate(inst, s, m, err)) return NULL;
    qv_trap *t = initialize(inst, s, m);
    if (t) {
        if (trap)
            *trap = t;
        else
            qv_trap_delete(t);
        return NULL;
    }
    return inst;
}

bool qv_instance_export_bytes(const qv_instance *inst, const char *name, size_t len, qv_extern *out)
{
    const qe_export *ex = inst->module->m->exports;
    for (uint32_t i = 0; i < inst->nexports; i++)
        if (ex[i].name_len == len && memcmp(ex[i].name, name, len) == 0) {
            *out = inst->exports[i];
            return true;
        }
    return false;
}

bool qv_instance_export(const qv_instance *inst, const char *name, qv_extern *out)
{
    return qv_instance_export_bytes(inst, name, strlen(name), out);
}

size_t qv_instance_export_count(const qv_instance *inst) { return inst->nexports; }

const char *qv_instance_export_at(const qv_instance *inst, size_t i, qv_extern *out)
{
    if (i >= inst->nexports) return NULL;
    if (out) *out = inst->exports[i];
    return inst->export_names[i];
}
