/*
 * decode.c — the binary format: sections into a qe_module (see module.h).
 *
 * Only structure is checked here; typing and index rules are validate*.c's.
 * Function bodies are kept as byte ranges and read later with
 * qe_instr_next; constant expressions are read here to find their end.
 *
 * Reading follows the order of the reference decoder, so that a malformed
 * module gets the error the spec tests name: a section's contents are read
 * against the end of the module, and the section's size is checked once
 * they are read ("section size mismatch"). A count or a length that
 * overruns its section is thus reported by whatever the reading runs into.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

typedef struct dec {
    qe_reader r;                  /* ends where the module ends */
    qe_module *m;
    const uint8_t *section_end;
    bool has_function_section;
    uint32_t nfunc_decls;         /* entries of the function section */
} dec;

static bool failed(const dec *d) { return !d->r.ok; }
static bool fail(dec *d, const char *msg) { return qe_reader_fail(&d->r, msg); }

/* Fail with the error located at `at` rather than at the read position. */
static bool fail_at(dec *d, const uint8_t *at, const char *msg)
{
    if (d->r.ok) d->r.p = at;
    return qe_reader_fail(&d->r, msg);
}

static uint32_t off(const dec *d, const uint8_t *p) { return (uint32_t)(p - d->m->bytes); }

/* A count or a length. Like the reference decoder, it may not exceed the
 * bytes left in the module counted from the length field itself. */
static uint32_t read_len(dec *d)
{
    const uint8_t *at = d->r.p;
    uint32_t n = qe_read_u32(&d->r);
    if (d->r.ok && n > (size_t)(d->r.end - at)) fail_at(d, at, "length out of bounds");
    return n;
}

/* The size of a section or of a function: the end of its bytes, which
 * must all be in the module (read_len lets one byte more pass). NULL on
 * failure. */
static const uint8_t *read_size(dec *d)
{
    uint32_t n = read_len(d);
    if (failed(d)) return NULL;
    if (n > (size_t)(d->r.end - d->r.p)) {
        fail_at(d, d->r.end, "unexpected end of section or function");
        return NULL;
    }
    return d->r.p + n;
}

/* ------------------------------------------------------------ arrays */

/* Vectors come with untrusted counts. Their arrays start with room for
 * what the rest of `limit` can hold (every element takes a byte at least),
 * which is all of a well-formed vector, and grow only if elements really
 * continue past it, on the way to the error the reference decoder finds. */
static uint32_t first_cap(const dec *d, uint32_t count, const uint8_t *limit)
{
    size_t left = d->r.p < limit ? (size_t)(limit - d->r.p) : 0;
    return count < left ? count : (uint32_t)left;
}

static void *new_array(dec *d, uint32_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) fail(d, "out of memory");
    return p;
}

/* Returns the grown array, or the same one (and fails) when memory runs out. */
static void *grow_array(dec *d, void *a, uint32_t *cap, size_t size)
{
    uint32_t old = *cap;
    uint32_t ncap = old == 0 ? 8 : old <= UINT32_MAX / 2 ? old * 2 : UINT32_MAX;
    if (ncap == old) {
        fail(d, "out of memory");
        return a;
    }
    void *p = realloc(a, (size_t)ncap * size);
    if (!p) {
        fail(d, "out of memory");
        return a;
    }
    memset((char *)p + (size_t)old * size, 0, (size_t)(ncap - old) * size);
    *cap = ncap;
    return p;
}

/* True when element `i` of `arr` exists, growing the array if need be. */
#define ROOM_FOR(d, arr, cap, i) \
    ((i) < (cap) || ((arr) = grow_array((d), (arr), &(cap), sizeof *(arr)), (i) < (cap)))

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

/* ------------------------------------------------------------ types */

static bool is_functype_form(uint8_t b) { return b == 0x60; }

/* A one-byte type code. The reference decoder reads these as 7-bit signed
 * LEB128, so a continuation bit is "integer representation too long". */
static uint8_t read_type_code(dec *d, bool (*known)(uint8_t), const char *unknown_msg)
{
    const uint8_t *at = d->r.p;
    uint8_t b = qe_read_u8(&d->r);
    if (failed(d)) return 0;
    if (b & 0x80)
        fail_at(d, at, "integer representation too long");
    else if (!known(b))
        fail_at(d, at, unknown_msg);
    return b;
}

static uint8_t read_valtype(dec *d) { return read_type_code(d, qe_is_valtype, "malformed value type"); }
static uint8_t read_reftype(dec *d) { return read_type_code(d, qe_is_reftype, "malformed reference type"); }

/* The flag is a 1-bit LEB128 number in the reference decoder. */
static void read_limits(dec *d, qe_limits *lim)
{
    const uint8_t *at = d->r.p;
    uint8_t flag = qe_read_u8(&d->r);
    if (failed(d)) return;
    if ((flag & 0x7F) > 1) {
        fail_at(d, at, "integer too large");
        return;
    }
    if (flag & 0x80) {
        fail_at(d, at, "integer representation too long");
        return;
    }
    lim->has_max = flag == 1;
    lim->min = qe_read_u32(&d->r);
    lim->max = lim->has_max ? qe_read_u32(&d->r) : 0;
}

static void read_tabletype(dec *d, qe_tabletype *t)
{
    t->elem = read_reftype(d);
    if (!failed(d)) read_limits(d, &t->lim);
}

static void read_globaltype(dec *d, qe_globaltype *g)
{
    g->type = read_valtype(d);
    if (failed(d)) return;
    uint8_t mut = qe_read_u8(&d->r);
    if (d->r.ok && mut > 1) fail_at(d, d->r.p - 1, "malformed mutability");
    g->mut = mut == 1;
}

/* A constant expression: instructions up to the `end` that closes it.
 * Blocks are not constant, but they nest in the grammar, so they are
 * followed here and left to the validator to refuse. */
static void read_expr(dec *d, qe_expr *e)
{
    qe_instr_reader ir;
    qe_instr in;
    uint32_t start = off(d, d->r.p), depth = 1;
    qe_instr_reader_init(&ir, d->m, start, off(d, d->r.end));
    while (depth > 0) {
        if (!qe_instr_next(&ir, &in)) {
            fail_at(d, d->m->bytes + ir.r.err_offset, ir.r.err);
            break;
        }
        if (in.op == QE_OP_BLOCK || in.op == QE_OP_LOOP || in.op == QE_OP_IF) depth++;
        else if (in.op == QE_OP_END) depth--;
    }
    if (!failed(d)) {
        d->r.p = ir.r.p;
        e->start = start;
        e->len = off(d, d->r.p) - start;
    }
    qe_instr_reader_free(&ir);
}

/* ------------------------------------------------------------ sections */

static void read_functype(dec *d, qe_functype *ft)
{
    read_type_code(d, is_functype_form, "malformed function type");
    if (failed(d)) return;
    /* Valid value types are single bytes: parameters and results are
     * contiguous in the module. */
    uint32_t np = read_len(d);
    const uint8_t *params = d->r.p;
    for (uint32_t k = 0; k < np && !failed(d); k++) read_valtype(d);
    uint32_t nr = failed(d) ? 0 : read_len(d);
    const uint8_t *results = d->r.p;
    for (uint32_t k = 0; k < nr && !failed(d); k++) read_valtype(d);
    if (failed(d)) return;
    size_t n = (size_t)np + nr;
    ft->types = malloc(n + 1);
    ft->api_types = malloc(sizeof(qv_valtype) * (n + 1));
    if (!ft->types || !ft->api_types) {
        fail(d, "out of memory");
        return;
    }
    memcpy(ft->types, params, np);
    memcpy(ft->types + np, results, nr);
    ft->nparams = np;
    ft->nresults = nr;
    for (size_t k = 0; k < n; k++) ft->api_types[k] = (qv_valtype)ft->types[k];
    ft->id = qe_functype_intern(ft->types, np, nr);
    if (ft->id == UINT32_MAX) fail(d, "out of memory");
}

static void read_types(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    m->types = new_array(d, cap, sizeof *m->types);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->types, cap, i); i++) {
        m->ntypes = i + 1;
        read_functype(d, &m->types[i]);
    }
}

static void read_import(dec *d, qe_import *im)
{
    qe_module *m = d->m;
    im->module = copy_name(d, NULL);
    if (!failed(d)) im->name = copy_name(d, NULL);
    if (failed(d)) return;
    im->kind = qe_read_u8(&d->r);
    if (failed(d)) return;
    switch (im->kind) {
    case QE_EXT_FUNC: im->u.typeidx = qe_read_u32(&d->r); m->nfunc_imports++; break;
    case QE_EXT_TABLE: read_tabletype(d, &im->u.table); m->ntable_imports++; break;
    case QE_EXT_MEMORY: read_limits(d, &im->u.mem.lim); m->nmem_imports++; break;
    case QE_EXT_GLOBAL: read_globaltype(d, &im->u.global); m->nglobal_imports++; break;
    default: fail_at(d, d->r.p - 1, "malformed import kind"); break;
    }
}

static void read_imports(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    m->imports = new_array(d, cap, sizeof *m->imports);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->imports, cap, i); i++) {
        m->nimports = i + 1;
        read_import(d, &m->imports[i]);
    }
}

/* Functions, tables, memories and globals count their imports first: the
 * arrays leave those slots for finish() to fill. The imports and the rest
 * of the section are disjoint parts of the module, so their sum of
 * capacities stays below 2^32. */

static void read_functions(dec *d)
{
    qe_module *m = d->m;
    d->has_function_section = true;
    uint32_t n = read_len(d), base = m->nfunc_imports;
    uint32_t cap = base + first_cap(d, n, d->section_end);
    m->func_types = new_array(d, cap, sizeof *m->func_types);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->func_types, cap, base + i); i++) {
        m->func_types[base + i] = qe_read_u32(&d->r);
        if (!failed(d)) d->nfunc_decls = i + 1;
    }
}

static void read_tables(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), base = m->ntable_imports;
    uint32_t cap = base + first_cap(d, n, d->section_end);
    m->tables = new_array(d, cap, sizeof *m->tables);
    m->ntables = base;
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->tables, cap, base + i); i++) {
        read_tabletype(d, &m->tables[base + i]);
        m->ntables = base + i + 1;
    }
}

static void read_memories(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), base = m->nmem_imports;
    uint32_t cap = base + first_cap(d, n, d->section_end);
    m->mems = new_array(d, cap, sizeof *m->mems);
    m->nmems = base;
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->mems, cap, base + i); i++) {
        read_limits(d, &m->mems[base + i].lim);
        m->nmems = base + i + 1;
    }
}

static void read_globals(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), base = m->nglobal_imports;
    uint32_t cap = first_cap(d, n, d->section_end), types_cap = base + cap;
    m->globals = new_array(d, cap, sizeof *m->globals);
    m->global_types = new_array(d, types_cap, sizeof *m->global_types);
    m->nglobals = base;
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->globals, cap, i) &&
                         ROOM_FOR(d, m->global_types, types_cap, base + i);
         i++) {
        qe_global *g = &m->globals[i];
        read_globaltype(d, &g->type);
        if (!failed(d)) read_expr(d, &g->init);
        m->global_types[base + i] = g->type;
        m->nglobals = base + i + 1;
    }
}

static void read_exports(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    m->exports = new_array(d, cap, sizeof *m->exports);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->exports, cap, i); i++) {
        qe_export *e = &m->exports[i];
        m->nexports = i + 1;
        e->name = copy_name(d, &e->name_len);
        if (failed(d)) break;
        e->kind = qe_read_u8(&d->r);
        if (d->r.ok && e->kind > QE_EXT_GLOBAL) fail_at(d, d->r.p - 1, "malformed export kind");
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
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    e->items = new_array(d, cap, sizeof *e->items);
    for (uint32_t k = 0; k < n && !failed(d) && ROOM_FOR(d, e->items, cap, k); k++) {
        e->items[k].is_expr = exprs;
        if (exprs)
            read_expr(d, &e->items[k].expr);
        else
            e->items[k].funcidx = qe_read_u32(&d->r);
        if (!failed(d)) e->count = k + 1;
    }
}

/* Flags: bit 0 passive or declarative, bit 1 an explicit table (active)
 * or declarative, bit 2 items are expressions rather than function
 * indices. Flags 0 and 4 imply funcref; the others name the type. */
static void read_elem(dec *d, qe_elem *e)
{
    const uint8_t *at = d->r.p;
    uint32_t flags = qe_read_u32(&d->r);
    if (failed(d)) return;
    if (flags > 7) {
        fail_at(d, at, "malformed elements segment kind");
        return;
    }
    bool not_active = flags & 1, bit1 = flags & 2, exprs = flags & 4;
    e->type = QE_FUNCREF;
    if (not_active) {
        e->mode = bit1 ? QE_SEG_DECLARATIVE : QE_SEG_PASSIVE;
    } else {
        e->mode = QE_SEG_ACTIVE;
        e->table = bit1 ? qe_read_u32(&d->r) : 0;
        if (!failed(d)) read_expr(d, &e->offset);
    }
    if (failed(d)) return;
    if (flags != 0 && flags != 4) {
        if (exprs) {
            e->type = read_reftype(d);
        } else {
            uint8_t kind = qe_read_u8(&d->r);
            if (d->r.ok && kind != 0x00) fail_at(d, d->r.p - 1, "malformed element kind");
        }
    }
    if (!failed(d)) read_elem_items(d, e, exprs);
}

static void read_elems(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    m->elems = new_array(d, cap, sizeof *m->elems);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->elems, cap, i); i++) {
        m->nelems = i + 1;
        read_elem(d, &m->elems[i]);
    }
}

static void read_datacount(dec *d)
{
    d->m->has_datacount = true;
    d->m->datacount = qe_read_u32(&d->r);
}

/* One entry of the code section: its size, the local declarations, then
 * the body, kept as a range. */
static void read_code_entry(dec *d, qe_code *c)
{
    c->offset = off(d, d->r.p);
    const uint8_t *end = read_size(d);
    if (!end) return;
    const uint8_t *locals_at = d->r.p;
    uint32_t n = read_len(d), cap = first_cap(d, n, end);
    c->localdecls = new_array(d, cap, sizeof *c->localdecls);
    for (uint32_t k = 0; k < n && !failed(d) && ROOM_FOR(d, c->localdecls, cap, k); k++) {
        qe_localdecl *l = &c->localdecls[k];
        l->count = qe_read_u32(&d->r);
        if (!failed(d)) l->type = read_valtype(d);
        c->nlocals += l->count; /* at most 2^32 decls of < 2^32: no overflow */
        c->nlocaldecls = k + 1;
    }
    if (failed(d)) return;
    if (c->nlocals > UINT32_MAX) {
        fail_at(d, locals_at, "too many locals");
        return;
    }
    if (d->r.p > end) {
        fail_at(d, end, "section size mismatch");
        return;
    }
    c->body_start = off(d, d->r.p);
    c->body_end = off(d, end);
    d->r.p = end;
}

static void read_code(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    m->codes = new_array(d, cap, sizeof *m->codes);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->codes, cap, i); i++) {
        read_code_entry(d, &m->codes[i]);
        m->ncodes = i + 1; /* also a failed entry, for its local declarations to be freed */
    }
}

static void read_data(dec *d, qe_data *s)
{
    const uint8_t *at = d->r.p;
    uint32_t flags = qe_read_u32(&d->r);
    if (failed(d)) return;
    if (flags > 2) {
        fail_at(d, at, "malformed data segment kind");
        return;
    }
    s->mode = flags == 1 ? QE_SEG_PASSIVE : QE_SEG_ACTIVE;
    if (flags != 1) {
        s->memory = flags == 2 ? qe_read_u32(&d->r) : 0;
        if (!failed(d)) read_expr(d, &s->offset);
    }
    uint32_t len = failed(d) ? 0 : read_len(d);
    const uint8_t *bytes = failed(d) ? NULL : qe_read_bytes(&d->r, len);
    if (!bytes) return;
    s->start = off(d, bytes);
    s->len = len;
}

static void read_datas(dec *d)
{
    qe_module *m = d->m;
    uint32_t n = read_len(d), cap = first_cap(d, n, d->section_end);
    m->datas = new_array(d, cap, sizeof *m->datas);
    for (uint32_t i = 0; i < n && !failed(d) && ROOM_FOR(d, m->datas, cap, i); i++) {
        m->ndatas = i + 1;
        read_data(d, &m->datas[i]);
    }
}

/* A custom section: a name, then bytes for whoever knows the name. */
static void read_custom(dec *d, const uint8_t **name_start, const uint8_t **name_end)
{
    uint32_t len;
    const uint8_t *name = qe_read_name(&d->r, &len);
    if (!name) return;
    if (d->r.p > d->section_end) {
        fail_at(d, d->section_end, "unexpected end of section or function");
        return;
    }
    if (len == 4 && memcmp(name, "name", 4) == 0 && !*name_start) {
        *name_start = d->r.p;
        *name_end = d->section_end;
    }
    d->r.p = d->section_end;
}

/* ------------------------------------------------------------ name section */

static char *copy_reader_name(qe_reader *r)
{
    uint32_t len;
    const uint8_t *s = qe_read_name(r, &len);
    char *c = s ? malloc((size_t)len + 1) : NULL;
    if (!c) return NULL;
    memcpy(c, s, len);
    c[len] = 0;
    return c;
}

static void free_names(char **names, uint32_t n)
{
    if (!names) return;
    for (uint32_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Function names: a map with increasing indices below nfuncs. NULL if
 * malformed. */
static char **read_func_names(qe_reader *r, uint32_t nfuncs)
{
    uint32_t n = qe_read_u32(r);
    if (!r->ok || n > nfuncs) return NULL;
    char **names = calloc(nfuncs ? nfuncs : 1, sizeof *names);
    if (!names) return NULL;
    int64_t last = -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = qe_read_u32(r);
        if (!r->ok || idx >= nfuncs || (int64_t)idx <= last || !(names[idx] = copy_reader_name(r))) {
            free_names(names, nfuncs);
            return NULL;
        }
        last = idx;
    }
    return names;
}

/* The "name" section only informs: a malformed one is ignored whole and
 * never fails the module. Subsections come in increasing id order; those
 * other than the module name (0) and function names (1) are skipped. */
static void read_names(qe_module *m, const uint8_t *start, const uint8_t *end)
{
    qe_reader r;
    qe_reader_init(&r, m->bytes, start, end);
    char *module_name = NULL, **func_names = NULL;
    int last_id = -1;
    bool ok = true;
    while (ok && !qe_reader_at_end(&r)) {
        uint8_t id = qe_read_u8(&r);
        uint32_t size = qe_read_u32(&r);
        if (!r.ok || (int)id <= last_id || size > (size_t)(r.end - r.p)) {
            ok = false;
            break;
        }
        last_id = id;
        qe_reader sub;
        qe_reader_init(&sub, m->bytes, r.p, r.p + size);
        if (id == 0)
            ok = (module_name = copy_reader_name(&sub)) != NULL && qe_reader_at_end(&sub);
        else if (id == 1)
            ok = (func_names = read_func_names(&sub, m->nfuncs)) != NULL && qe_reader_at_end(&sub);
        r.p += size;
    }
    if (ok) {
        m->name = module_name;
        m->func_names = func_names;
    } else {
        free(module_name);
        free_names(func_names, m->nfuncs);
    }
}

/* ------------------------------------------------------------ module */

/* Position of each section id in the required order (custom: 0, anywhere);
 * datacount (12) comes between element (9) and code (10). */
static int section_rank(uint8_t id)
{
    static const int rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return id <= 12 ? rank[id] : -1;
}

/* Checks that need every section, then the imports' slots of the index
 * spaces. */
static void finish(dec *d)
{
    qe_module *m = d->m;
    if (m->ncodes != d->nfunc_decls) {
        fail(d, "function and code section have inconsistent lengths");
        return;
    }
    if (m->has_datacount && m->ndatas != m->datacount) {
        fail(d, "data count and data section have inconsistent lengths");
        return;
    }
    m->nfuncs = m->nfunc_imports + d->nfunc_decls;
    if (!d->has_function_section) m->func_types = new_array(d, m->nfuncs, sizeof *m->func_types);
    if (!m->tables) {
        m->ntables = m->ntable_imports;
        m->tables = new_array(d, m->ntables, sizeof *m->tables);
    }
    if (!m->mems) {
        m->nmems = m->nmem_imports;
        m->mems = new_array(d, m->nmems, sizeof *m->mems);
    }
    if (!m->global_types) {
        m->nglobals = m->nglobal_imports;
        m->global_types = new_array(d, m->nglobals, sizeof *m->global_types);
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

static bool read_header(dec *d)
{
    static const uint8_t magic[4] = {0, 'a', 's', 'm'}, version[4] = {1, 0, 0, 0};
    qe_reader *r = &d->r;
    if (r->end - r->p < 4) return fail(d, "unexpected end");
    if (memcmp(r->p, magic, 4) != 0) return fail(d, "magic header not detected");
    r->p += 4;
    if (r->end - r->p < 4) return fail(d, "unexpected end");
    if (memcmp(r->p, version, 4) != 0) return fail(d, "unknown binary version");
    r->p += 4;
    return true;
}

static void read_sections(dec *d, const uint8_t **name_start, const uint8_t **name_end)
{
    int last_rank = 0;
    while (!failed(d) && !qe_reader_at_end(&d->r)) {
        const uint8_t *id_at = d->r.p;
        uint8_t id = qe_read_u8(&d->r);
        int rank = section_rank(id);
        if (rank < 0) {
            fail_at(d, id_at, "malformed section id");
            break;
        }
        if (rank != 0) {
            if (rank <= last_rank) {
                fail_at(d, id_at, "unexpected content after last section");
                break;
            }
            last_rank = rank;
        }
        d->section_end = read_size(d);
        if (!d->section_end) break;
        switch (id) {
        case 0: read_custom(d, name_start, name_end); break;
        case 1: read_types(d); break;
        case 2: read_imports(d); break;
        case 3: read_functions(d); break;
        case 4: read_tables(d); break;
        case 5: read_memories(d); break;
        case 6: read_globals(d); break;
        case 7: read_exports(d); break;
        case 8: read_start(d); break;
        case 9: read_elems(d); break;
        case 10: read_code(d); break;
        case 11: read_datas(d); break;
        case 12: read_datacount(d); break;
        }
        /* Located at the first byte left over, or where the section
         * should have ended. */
        if (!failed(d) && d->r.p != d->section_end)
            fail_at(d, d->r.p < d->section_end ? d->r.p : d->section_end, "section size mismatch");
    }
}

/* Bodies are only read later, but a body that cannot be read explains a
 * failure found after it better: a body whose size cuts an instruction
 * short leaves bytes that read as a bogus section, say. The reference
 * decoder reads bodies in order and reports theirs; so does this, on
 * failure only. Returns the index of the defined function blamed, or -1. */
static int64_t blame_bodies(dec *d)
{
    const qe_module *m = d->m;
    for (uint32_t i = 0; i < m->ncodes; i++) {
        const qe_code *c = &m->codes[i];
        if (c->body_end == 0 || c->body_start >= d->r.err_offset) break; /* entry not read whole */
        qe_instr_reader ir;
        qe_instr in;
        qe_instr_reader_init(&ir, m, c->body_start, c->body_end);
        uint32_t depth = 1;
        bool ok = true;
        while (depth > 0 && (ok = qe_instr_next(&ir, &in))) {
            if (in.op == QE_OP_BLOCK || in.op == QE_OP_LOOP || in.op == QE_OP_IF) depth++;
            else if (in.op == QE_OP_END) depth--;
        }
        if (!ok) {
            d->r.err = ir.r.err;
            d->r.err_offset = ir.r.err_offset;
        }
        qe_instr_reader_free(&ir);
        if (!ok) return i;
    }
    return -1;
}

qe_module *qe_decode(const uint8_t *bytes, size_t len, qv_error *err)
{
    if (err) {
        err->message[0] = 0;
        err->offset = 0;
        err->func_index = -1;
    }
    if (len > UINT32_MAX) {
        if (err) snprintf(err->message, sizeof err->message, "module larger than 4 GiB (%zu bytes)", len);
        return NULL;
    }
    qe_module *m = calloc(1, sizeof *m);
    uint8_t *copy = malloc(len ? len : 1);
    if (!m || !copy) {
        free(m);
        free(copy);
        if (err) snprintf(err->message, sizeof err->message, "out of memory copying a %zu-byte module", len);
        return NULL;
    }
    if (len) memcpy(copy, bytes, len);
    m->bytes = copy;
    m->len = len;
    dec d = {.m = m};
    qe_reader_init(&d.r, copy, copy, copy + len);

    const uint8_t *name_start = NULL, *name_end = NULL;
    if (read_header(&d)) read_sections(&d, &name_start, &name_end);
    if (!failed(&d)) finish(&d);
    if (!failed(&d)) {
        if (name_start) read_names(m, name_start, name_end);
        return m;
    }
    int64_t blamed = blame_bodies(&d);
    if (err) {
        snprintf(err->message, sizeof err->message, "%s", d.r.err ? d.r.err : "malformed module");
        err->offset = d.r.err_offset;
        err->func_index = blamed < 0 ? -1 : (int64_t)m->nfunc_imports + blamed;
    }
    qe_module_free(m);
    return NULL;
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
    free_names(m->func_names, m->nfuncs);
    free(m->bytes);
    free(m);
}
