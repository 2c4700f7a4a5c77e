/*
 * decode.c — the binary format: sections into a qe_module (see module.h).
 *
 * Only structure is checked here; typing and index rules are validate*.c's.
 * Function bodies are kept as byte ranges and read later with
 * qe_instr_next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

typedef struct dec {
    qe_reader r;
    qe_module *m;
    qv_error *err;
    bool has_function_section;
    uint32_t nfunc_decls;        /* entries of the function section */
} dec;

static bool failed(dec *d) { return !d->r.ok; }
static bool fail(dec *d, const char *msg) { return qe_reader_fail(&d->r, msg); }

static uint32_t off(dec *d, const uint8_t *p) { return (uint32_t)(p - d->m->bytes); }

/* A vector count, checked against the bytes left (each element takes at
 * least `min_size` bytes) so a hostile count cannot force a huge
 * allocation. */
static uint32_t read_count(dec *d, size_t min_size)
{
    uint32_t n = qe_read_u32(&d->r);
    if (d->r.ok && (size_t)n * min_size > (size_t)(d->r.end - d->r.p)) {
        fail(d, "unexpected end of section or function");
        return 0;
    }
    return n;
}

static void *alloc_array(dec *d, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) fail(d, "out of memory");
    return p;
}

static char *copy_name(dec *d, uint32_t *len_out)
{
    uint32_t len = 0;
    const uint8_t *s = qe_read_name(&d->r, &len);
    if (!s) return NULL;
    char *c = malloc((size_t)len + 1);
    if (!c) {
        fail(d, "out of memory");
        return NULL;
    }
    memcpy(c, s, len);
    c[len] = 0;
    if (len_out) *len_out = len;
    return c;
}

static uint8_t read_valtype(dec *d)
{
    uint8_t t = qe_read_u8(&d->r);
    if (d->r.ok && !qe_is_valtype(t)) fail(d, "malformed value type");
    return t;
}

static uint8_t read_reftype(dec *d)
{
    uint8_t t = qe_read_u8(&d->r);
    if (d->r.ok && !qe_is_reftype(t)) fail(d, "malformed reference type");
    return t;
}

static void read_limits(dec *d, qe_limits *lim)
{
    uint8_t flag = qe_read_u8(&d->r);
    if (failed(d)) return;
    if (flag > 1) {
        fail(d, "integer too large");
        return;
    }
    lim->min = qe_read_u32(&d->r);
    lim->has_max = flag == 1;
    lim->max = lim->has_max ? qe_read_u32(&d->r) : 0;
}

static void read_tabletype(dec *d, qe_tabletype *t)
{
    t->elem = read_reftype(d);
    read_limits(d, &t->lim);
}

static void read_globaltype(dec *d, qe_globaltype *g)
{
    g->type = read_valtype(d);
    uint8_t mut = qe_read_u8(&d->r);
    if (d->r.ok && mut > 1) fail(d, "malformed mutability");
    g->mut = mut == 1;
}

/* A constant expression: everything up to and including its `end`. */
static void read_expr(dec *d, qe_expr *e)
{
    qe_instr_reader ir;
    qe_instr in;
    uint32_t start = off(d, d->r.p);
    qe_instr_reader_init(&ir, d->m, start, off(d, d->r.end));
    for (;;) {
        if (!qe_instr_next(&ir, &in)) {
            d->r.p = ir.r.p;
            fail(d, ir.r.err);
            d->r.err_offset = ir.r.err_offset;
            break;
        }
        if (in.op == QE_OP_END) break;
    }
    if (d->r.ok) {
        d->r.p = ir.r.p;
        e->start = start;
        e->len = off(d, d->r.p) - start;
    }
    qe_instr_reader_free(&ir);
}

/* ------------------------------------------------------------ sections */

static void read_types(dec *d)
{
    qe_module *m = d->m;
    m->ntypes = read_count(d, 3);
    m->types = alloc_array(d, m->ntypes, sizeof *m->types);
    for (uint32_t i = 0; i < m->ntypes && !failed(d); i++) {
        if (qe_read_u8(&d->r) != 0x60) {
            fail(d, "integer representation too long"); /* the spec tests' wording for a bad form */
            break;
        }
        uint32_t np = read_count(d, 1);
        const uint8_t *params = d->r.p;
        for (uint32_t k = 0; k < np && !failed(d); k++) read_valtype(d);
        uint32_t nr = failed(d) ? 0 : read_count(d, 1);
        const uint8_t *results = d->r.p;
        for (uint32_t k = 0; k < nr && !failed(d); k++) read_valtype(d);
        if (failed(d)) break;
        qe_functype *ft = &m->types[i];
        ft->types = malloc((size_t)np + nr + 1);
        if (!ft->types) {
            fail(d, "out of memory");
            break;
        }
        memcpy(ft->types, params, np);
        memcpy(ft->types + np, results, nr);
        ft->nparams = np;
        ft->nresults = nr;
        ft->api_types = malloc(sizeof(qv_valtype) * ((size_t)np + nr + 1));
        if (!ft->api_types) {
            fail(d, "out of memory");
            break;
        }
        for (uint32_t k = 0; k < np + nr; k++) ft->api_types[k] = (qv_valtype)ft->types[k];
        ft->id = qe_functype_intern(ft->types, np, nr);
    }
}

static void read_imports(dec *d)
{
    qe_module *m = d->m;
    m->nimports = read_count(d, 4);
    m->imports = alloc_array(d, m->nimports, sizeof *m->imports);
    for (uint32_t i = 0; i < m->nimports && !failed(d); i++) {
        qe_import *im = &m->imports[i];
        im->module = copy_name(d, NULL);
        if (failed(d)) break;
        im->name = copy_name(d, NULL);
        if (failed(d)) break;
        im->kind = qe_read_u8(&d->r);
        switch (im->kind) {
        case QE_EXT_FUNC: im->u.typeidx = qe_read_u32(&d->r); m->nfunc_imports++; break;
        case QE_EXT_TABLE: read_tabletype(d, &im->u.table); m->ntable_imports++; break;
        case QE_EXT_MEMORY: read_limits(d, &im->u.mem.lim); m->nmem_imports++; break;
        case QE_EXT_GLOBAL: read_globaltype(d, &im->u.global); m->nglobal_imports++; break;
        default: if (!failed(d)) fail(d, "malformed import kind"); break;
        }
    }
}

static void read_functions(dec *d)
{
    d->has_function_section = true;
    d->nfunc_decls = read_count(d, 1);
    qe_module *m = d->m;
    m->nfuncs = m->nfunc_imports + d->nfunc_decls;
    if ((uint64_t)m->nfunc_imports + d->nfunc_decls > UINT32_MAX) {
        fail(d, "too many functions");
        return;
    }
    m->func_types = alloc_array(d, m->nfuncs, sizeof *m->func_types);
    if (failed(d)) return;
    /* Imported functions' types are filled in by finish(). */
    for (uint32_t i = 0; i < d->nfunc_decls && !failed(d); i++)
        m->func_types[m->nfunc_imports + i] = qe_read_u32(&d->r);
}

static void read_tables(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_count(d, 3);
    m->ntables = m->ntable_imports + n;
    m->tables = alloc_array(d, m->ntables, sizeof *m->tables);
    for (uint32_t i = 0; i < n && !failed(d); i++) read_tabletype(d, &m->tables[m->ntable_imports + i]);
}

static void read_memories(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_count(d, 2);
    m->nmems = m->nmem_imports + n;
    m->mems = alloc_array(d, m->nmems, sizeof *m->mems);
    for (uint32_t i = 0; i < n && !failed(d); i++) read_limits(d, &m->mems[m->nmem_imports + i].lim);
}

static void read_globals(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_count(d, 3);
    m->nglobals = m->nglobal_imports + n;
    m->global_types = alloc_array(d, m->nglobals, sizeof *m->global_types);
    m->globals = alloc_array(d, n, sizeof *m->globals);
    for (uint32_t i = 0; i < n && !failed(d); i++) {
        read_globaltype(d, &m->globals[i].type);
        m->global_types[m->nglobal_imports + i] = m->globals[i].type;
        if (!failed(d)) read_expr(d, &m->globals[i].init);
    }
}

static void read_exports(dec *d)
{
    qe_module *m = d->m;
    m->nexports = read_count(d, 3);
    m->exports = alloc_array(d, m->nexports, sizeof *m->exports);
    for (uint32_t i = 0; i < m->nexports && !failed(d); i++) {
        qe_export *e = &m->exports[i];
        e->name = copy_name(d, &e->name_len);
        if (failed(d)) break;
        e->kind = qe_read_u8(&d->r);
        if (d->r.ok && e->kind > QE_EXT_GLOBAL) fail(d, "malformed export kind");
        e->index = qe_read_u32(&d->r);
    }
}

static void read_start(dec *d)
{
    d->m->has_start = true;
    d->m->start = qe_read_u32(&d->r);
}

static void read_elem_items(dec *d, qe_elem *e, bool exprs)
{
    e->count = read_count(d, 1);
    e->items = alloc_array(d, e->count, sizeof *e->items);
    for (uint32_t k = 0; k < e->count && !failed(d); k++) {
        e->items[k].is_expr = exprs;
        if (exprs)
            read_expr(d, &e->items[k].expr);
        else
            e->items[k].funcidx = qe_read_u32(&d->r);
    }
}

static void read_elems(dec *d)
{
    qe_module *m = d->m;
    m->nelems = read_count(d, 1);
    m->elems = alloc_array(d, m->nelems, sizeof *m->elems);
    for (uint32_t i = 0; i < m->nelems && !failed(d); i++) {
        qe_elem *e = &m->elems[i];
        uint32_t flags = qe_read_u32(&d->r);
        if (failed(d)) break;
        if (flags > 7) {
            fail(d, "malformed elements segment kind");
            break;
        }
        bool passive_or_declarative = flags & 1, explicit_table = flags & 2, exprs = flags & 4;
        e->type = QE_FUNCREF;
        if (!passive_or_declarative) {
            e->mode = QE_SEG_ACTIVE;
            e->table = explicit_table ? qe_read_u32(&d->r) : 0;
            read_expr(d, &e->offset);
        } else {
            e->mode = explicit_table ? QE_SEG_DECLARATIVE : QE_SEG_PASSIVE;
        }
        /* Flags 0 and 4 imply funcref; the others name the element type. */
        if (flags != 0 && flags != 4) {
            if (exprs) {
                e->type = read_reftype(d);
            } else {
                uint8_t kind = qe_read_u8(&d->r);
                if (d->r.ok && kind != 0) fail(d, "malformed element kind");
            }
        }
        if (!failed(d)) read_elem_items(d, e, exprs);
    }
}

static void read_datacount(dec *d)
{
    d->m->has_datacount = true;
    d->m->datacount = qe_read_u32(&d->r);
}

static void read_code(dec *d)
{
    qe_module *m = d->m;
    m->ncodes = read_count(d, 2);
    if (m->ncodes != d->nfunc_decls) {
        fail(d, "function and code section have inconsistent lengths");
        return;
    }
    m->codes = alloc_array(d, m->ncodes, sizeof *m->codes);
    for (uint32_t i = 0; i < m->ncodes && !failed(d); i++) {
        qe_code *c = &m->codes[i];
        c->offset = off(d, d->r.p);
        uint32_t size = qe_read_u32(&d->r);
        if (failed(d)) break;
        if (size > (size_t)(d->r.end - d->r.p)) {
            fail(d, "unexpected end of section or function");
            break;
        }
        const uint8_t *end = d->r.p + size;
        const uint8_t *section_end = d->r.end;
        d->r.end = end; /* reads inside the body must not pass it */
        c->nlocaldecls = read_count(d, 2);
        c->localdecls = alloc_array(d, c->nlocaldecls, sizeof *c->localdecls);
        for (uint32_t k = 0; k < c->nlocaldecls && !failed(d); k++) {
            c->localdecls[k].count = qe_read_u32(&d->r);
            c->localdecls[k].type = read_valtype(d);
            c->nlocals += c->localdecls[k].count;
            if (c->nlocals > UINT32_MAX) fail(d, "too many locals");
        }
        if (failed(d)) break;
        c->body_start = off(d, d->r.p);
        c->body_end = off(d, end);
        d->r.p = end;
        d->r.end = section_end;
    }
}

static void read_datas(dec *d)
{
    qe_module *m = d->m;
    m->ndatas = read_count(d, 1);
    if (m->has_datacount && m->ndatas != m->datacount) {
        fail(d, "data count and data section have inconsistent lengths");
        return;
    }
    m->datas = alloc_array(d, m->ndatas, sizeof *m->datas);
    for (uint32_t i = 0; i < m->ndatas && !failed(d); i++) {
        qe_data *s = &m->datas[i];
        uint32_t flags = qe_read_u32(&d->r);
        if (failed(d)) break;
        if (flags > 2) {
            fail(d, "malformed data segment kind");
            break;
        }
        s->mode = flags == 1 ? QE_SEG_PASSIVE : QE_SEG_ACTIVE;
        if (flags != 1) {
            s->memory = flags == 2 ? qe_read_u32(&d->r) : 0;
            read_expr(d, &s->offset);
        }
        uint32_t len = qe_read_u32(&d->r);
        const uint8_t *bytes = failed(d) ? NULL : qe_read_bytes(&d->r, len);
        if (!bytes) {
            if (d->r.ok) fail(d, "unexpected end of section or function");
            break;
        }
        s->start = off(d, bytes);
        s->len = len;
    }
}

/* The "name" section is informational: a malformed one is ignored. */
static void read_names(dec *d, const uint8_t *start, const uint8_t *end)
{
    qe_module *m = d->m;
    qe_reader r;
    qe_reader_init(&r, m->bytes, start, end);
    while (r.ok && !qe_reader_at_end(&r)) {
        uint8_t id = qe_read_u8(&r);
        uint32_t size = qe_read_u32(&r);
        if (!r.ok || size > (size_t)(r.end - r.p)) return;
        const uint8_t *sub_end = r.p + size;
        if (id == 0 && !m->name) {
            uint32_t len;
            const uint8_t *s = qe_read_name(&r, &len);
            if (s && (m->name = malloc((size_t)len + 1))) {
                memcpy(m->name, s, len);
                m->name[len] = 0;
            }
        } else if (id == 1 && !m->func_names && m->nfuncs) {
            char **names = calloc(m->nfuncs, sizeof *names);
            if (!names) return;
            uint32_t n = qe_read_u32(&r);
            for (uint32_t i = 0; i < n && r.ok; i++) {
                uint32_t idx = qe_read_u32(&r), len;
                const uint8_t *s = qe_read_name(&r, &len);
                if (!s || idx >= m->nfuncs || names[idx]) continue;
                if ((names[idx] = malloc((size_t)len + 1))) {
                    memcpy(names[idx], s, len);
                    names[idx][len] = 0;
                }
            }
            m->func_names = names;
        }
        r.p = sub_end;
    }
}

/* Position of each section id in the required order (custom: 0). */
static int section_rank(uint8_t id)
{
    static const int rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return id <= 12 ? rank[id] : -1;
}

static void finish(dec *d)
{
    qe_module *m = d->m;
    if (!d->has_function_section) {
        m->nfuncs = m->nfunc_imports;
        m->func_types = alloc_array(d, m->nfuncs, sizeof *m->func_types);
    }
    if (m->ncodes != d->nfunc_decls) {
        fail(d, "function and code section have inconsistent lengths");
        return;
    }
    if (m->has_datacount && m->ndatas != m->datacount) {
        fail(d, "data count and data section have inconsistent lengths");
        return;
    }
    /* Arrays of sections that were absent still cover the imports. */
    if (!m->tables) {
        m->ntables = m->ntable_imports;
        m->tables = alloc_array(d, m->ntables, sizeof *m->tables);
    }
    if (!m->mems) {
        m->nmems = m->nmem_imports;
        m->mems = alloc_array(d, m->nmems, sizeof *m->mems);
    }
    if (!m->global_types) {
        m->nglobals = m->nglobal_imports;
        m->global_types = alloc_array(d, m->nglobals, sizeof *m->global_types);
    }
    if (failed(d)) return;
    uint32_t fi = 0, ti = 0, mi = 0, gi = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const qe_import *im = &m->imports[i];
        switch (im->kind) {
        case QE_EXT_FUNC: m->func_types[fi++] = im->u.typeidx; break;
        case QE_EXT_TABLE: m->tables[ti++] = im->u.table; break;
        case QE_EXT_MEMORY: m->mems[mi++] = im->u.mem; break;
        case QE_EXT_GLOBAL: m->global_types[gi++] = im->u.global; break;
        }
    }
}

qe_module *qe_decode(const uint8_t *bytes, size_t len, qv_error *err)
{
    if (len > UINT32_MAX) {
        if (err) {
            snprintf(err->message, sizeof err->message, "module larger than 4 GiB");
            err->offset = 0;
            err->func_index = -1;
        }
        return NULL;
    }
    qe_module *m = calloc(1, sizeof *m);
    uint8_t *copy = malloc(len ? len : 1);
    if (!m || !copy) {
        free(m);
        free(copy);
        if (err) snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    memcpy(copy, bytes, len);
    m->bytes = copy;
    m->len = len;
    dec d = {.m = m, .err = err};
    qe_reader_init(&d.r, copy, copy, copy + len);

    static const uint8_t magic[4] = {0, 'a', 's', 'm'}, version[4] = {1, 0, 0, 0};
    const uint8_t *p = qe_read_bytes(&d.r, 4);
    if (!p || memcmp(p, magic, 4) != 0) {
        qe_reader_init(&d.r, copy, copy, copy + len);
        fail(&d, "magic header not detected");
    } else if (!(p = qe_read_bytes(&d.r, 4)) || memcmp(p, version, 4) != 0) {
        d.r.ok = true;
        fail(&d, "unknown binary version");
    }

    int last_rank = 0;
    const uint8_t *name_start = NULL, *name_end = NULL;
    while (!failed(&d) && !qe_reader_at_end(&d.r)) {
        uint8_t id = qe_read_u8(&d.r);
        int rank = section_rank(id);
        if (rank < 0) {
            d.r.p--;
            fail(&d, "malformed section id");
            break;
        }
        uint32_t size = qe_read_u32(&d.r);
        if (failed(&d)) break;
        if (size > (size_t)(d.r.end - d.r.p)) {
            fail(&d, "length out of bounds");
            break;
        }
        const uint8_t *end = d.r.p + size, *file_end = d.r.end;
        if (rank != 0) {
            if (rank <= last_rank) {
                fail(&d, "unexpected content after last section");
                break;
            }
            last_rank = rank;
        }
        d.r.end = end;
        switch (id) {
        case 0: {
            /* Names are read last, once the functions are known. */
            uint32_t nlen;
            const uint8_t *nm = qe_read_name(&d.r, &nlen);
            if (nm && nlen == 4 && memcmp(nm, "name", 4) == 0 && !name_start) {
                name_start = d.r.p;
                name_end = end;
            }
            if (!failed(&d)) d.r.p = end;
            break;
        }
        case 1: read_types(&d); break;
        case 2: read_imports(&d); break;
        case 3: read_functions(&d); break;
        case 4: read_tables(&d); break;
        case 5: read_memories(&d); break;
        case 6: read_globals(&d); break;
        case 7: read_exports(&d); break;
        case 8: read_start(&d); break;
        case 9: read_elems(&d); break;
        case 10: read_code(&d); break;
        case 11: read_datas(&d); break;
        case 12: read_datacount(&d); break;
        }
        if (!failed(&d) && d.r.p != end) fail(&d, "section size mismatch");
        d.r.end = file_end;
    }
    if (!failed(&d)) finish(&d);
    if (!failed(&d) && name_start) read_names(&d, name_start, name_end);

    if (failed(&d)) {
        if (err) {
            snprintf(err->message, sizeof err->message, "%s", d.r.err ? d.r.err : "malformed module");
            err->offset = d.r.err_offset;
            err->func_index = -1;
        }
        qe_module_free(m);
        return NULL;
    }
    return m;
}

void qe_module_free(qe_module *m)
{
    if (!m) return;
    for (uint32_t i = 0; i < m->ntypes && m->types; i++) {
        free(m->types[i].types);
        free(m->types[i].api_types);
    }
    free(m->types);
    for (uint32_t i = 0; i < m->nimports && m->imports; i++) {
        free(m->imports[i].module);
        free(m->imports[i].name);
    }
    free(m->imports);
    free(m->func_types);
    free(m->tables);
    free(m->mems);
    free(m->global_types);
    free(m->globals);
    for (uint32_t i = 0; i < m->nexports && m->exports; i++) free(m->exports[i].name);
    free(m->exports);
    for (uint32_t i = 0; i < m->nelems && m->elems; i++) free(m->elems[i].items);
    free(m->elems);
    free(m->datas);
    for (uint32_t i = 0; i < m->ncodes && m->codes; i++) free(m->codes[i].localdecls);
    free(m->codes);
    free(m->name);
    if (m->func_names)
        for (uint32_t i = 0; i < m->nfuncs; i++) free(m->func_names[i]);
    free(m->func_names);
    free(m->bytes);
    free(m);
}
