/*
 * decode.c — decoding and validating a component binary: the preamble,
 * then each section in order, every definition checked against the index
 * spaces it refers to (kinds, bounds, names), nested core modules compiled
 * by the engine, nested components decoded recursively.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/decode.h"
#include "component/host.h"

static const uint8_t component_preamble[8] = {0x00, 0x61, 0x73, 0x6D, 0x0D, 0x00, 0x01, 0x00};

bool qv_is_component(const uint8_t *bytes, size_t len)
{
    return len >= 8 && !memcmp(bytes, component_preamble, 8);
}

static cm_def *new_def(dstate *d, uint8_t op, cm_sort sort)
{
    qv_component *c = d->c;
    cm_def *grown = realloc(c->defs, (c->ndefs + 1) * sizeof *grown);
    if (!grown) return cm_fail(d, "out of memory"), NULL;
    c->defs = grown;
    cm_def *def = &c->defs[c->ndefs++];
    memset(def, 0, sizeof *def);
    def->op = op;
    def->sort = sort;
    def->offset = qe_reader_offset(d->r);
    def->opts.memory = def->opts.realloc = def->opts.post_return = -1;
    return def;
}

static bool ok_or_fail(dstate *d)
{
    if (d->r->ok) return true;
    if (!d->failed) cm_fail(d, "%s", d->r->err);
    return false;
}

static void free_component(qv_component *c);
static qv_component *decode(dstate *outer, const uint8_t *base, const uint8_t *start, const uint8_t *end,
                            cm_arena *arena, uint32_t *nrids, qv_error *err);

static bool core_module_section(dstate *d, const uint8_t *start, size_t size)
{
    qv_component *c = d->c;
    qv_error merr = {0};
    qv_module *m = qv_module_new(start, size, &merr);
    if (!m) {
        size_t at = (size_t)(start - d->r->base) + merr.offset;
        d->r->p = d->r->base + at; /* the failure's offset, for cm_fail */
        return cm_fail(d, "core module %u: %s", c->nmodules, merr.message);
    }
    qv_module **grown = realloc(c->modules, (c->nmodules + 1) * sizeof *grown);
    if (!grown) {
        qv_module_delete(m);
        return cm_fail(d, "out of memory");
    }
    c->modules = grown;
    c->modules[c->nmodules] = m;
    cm_def *def = new_def(d, OP_CORE_MODULE, S_CORE_MODULE);
    if (!def) return false;
    def->idx = c->nmodules++;
    return cm_define(d, S_CORE_MODULE, m);
}

static bool component_section(dstate *d, const uint8_t *start, size_t size)
{
    qv_component *c = d->c;
    if (cm_nesting(d) >= CM_MAX_NESTING)
        return cm_fail(d, "components and type declarations are nested deeper than %d", CM_MAX_NESTING);
    qv_component *nested = decode(d, d->r->base, start, start + size, d->arena, d->nrids, d->err);
    if (!nested) {
        for (dstate *o = d; o; o = o->outer) o->failed = true;
        return false;
    }
    qv_component **grown = realloc(c->components, (c->ncomponents + 1) * sizeof *grown);
    if (!grown) {
        free_component(nested);
        return cm_fail(d, "out of memory");
    }
    c->components = grown;
    c->components[c->ncomponents] = nested;
    cm_def *def = new_def(d, OP_COMPONENT, S_COMPONENT);
    if (!def) return false;
    def->idx = c->ncomponents++;
    return cm_define(d, S_COMPONENT, nested->type);
}

static bool core_instance(dstate *d)
{
    uint8_t kind = qe_read_u8(d->r);
    if (!ok_or_fail(d)) return false;
    cm_core_inst *ci = cm_alloc(d->arena, sizeof *ci);
    if (!ci) return cm_fail(d, "out of memory");
    cm_def *def = new_def(d, kind == 0x00 ? OP_CORE_INSTANTIATE : OP_CORE_INLINE, S_CORE_INSTANCE);
    if (!def) return false;
    if (kind == 0x00) {
        def->idx = qe_read_u32(d->r);
        void *m = NULL;
        if (!ok_or_fail(d) || !cm_lookup(d, S_CORE_MODULE, def->idx, "core instance", &m)) return false;
        if (!m) return cm_fail(d, "core instance: instantiating an imported core module is not supported");
        ci->module = m;
    } else if (kind != 0x01) {
        return cm_fail(d, "malformed core instance (0x%02x)", kind);
    }
    def->nargs = qe_read_u32(d->r);
    if (!ok_or_fail(d)) return false;
    if (def->nargs > 100000) return cm_fail(d, "core instance: %u arguments", def->nargs);
    def->args = cm_alloc(d->arena, (def->nargs ? def->nargs : 1) * sizeof *def->args);
    if (!def->args) return cm_fail(d, "out of memory");
    for (uint32_t i = 0; i < def->nargs; i++) {
        cm_arg *a = &def->args[i];
        if (!(a->name = cm_read_string(d))) return false;
        if (kind == 0x00) {
            if (qe_read_u8(d->r) != 0x12 || !ok_or_fail(d))
                return d->failed ? false : cm_fail(d, "core instance argument '%s' must be a core instance", a->name);
            a->sort = S_CORE_INSTANCE;
        } else {
            uint8_t s = qe_read_u8(d->r);
            if (!ok_or_fail(d)) return false;
            if (s > 0x03) return cm_fail(d, "core inline export '%s': only functions, tables, memories and globals", a->name);
            a->sort = (cm_sort)s;
        }
        a->idx = qe_read_u32(d->r);
        void *unused = NULL;
        if (!ok_or_fail(d) || !cm_lookup(d, a->sort, a->idx, a->name, &unused)) return false;
    }
    if (!cm_names_init(&def->argix, d->arena, def->nargs)) return cm_fail(d, "out of memory");
    for (uint32_t i = 0; i < def->nargs; i++)
        if (!cm_names_add(&def->argix, def->args[i].name, i, NULL))
            return cm_fail(d, "core instance: the name '%s' is given twice", def->args[i].name);
    if (kind == 0x01) {
        ci->exports = def->args;
        ci->nexports = def->nargs;
    }
    return cm_define(d, S_CORE_INSTANCE, ci);
}

/* The static type of an item of `sort`, to describe instance exports. */
static cm_type *static_type(dstate *d, cm_sort sort, uint32_t idx)
{
    void *t = NULL;
    if (sort == S_TYPE || sort == S_FUNC || sort == S_INSTANCE || sort == S_COMPONENT) cm_lookup(d, sort, idx, "", &t);
    return t;
}

static bool instance(dstate *d)
{
    uint8_t kind = qe_read_u8(d->r);
    if (!ok_or_fail(d)) return false;
    cm_def *def = new_def(d, kind == 0x00 ? OP_INSTANTIATE : OP_INLINE, S_INSTANCE);
    if (!def) return false;
    cm_type *ctype = NULL;
    if (kind == 0x00) {
        def->idx = qe_read_u32(d->r);
        void *t = NULL;
        if (!ok_or_fail(d) || !cm_lookup(d, S_COMPONENT, def->idx, "instance", &t)) return false;
        ctype = t;
    } else if (kind != 0x01) {
        return cm_fail(d, "malformed instance (0x%02x)", kind);
    }
    def->nargs = qe_read_u32(d->r);
    if (!ok_or_fail(d)) return false;
    if (def->nargs > 100000) return cm_fail(d, "instance: %u arguments", def->nargs);
    def->args = cm_alloc(d->arena, (def->nargs ? def->nargs : 1) * sizeof *def->args);
    if (!def->args) return cm_fail(d, "out of memory");
    for (uint32_t i = 0; i < def->nargs; i++) {
        cm_arg *a = &def->args[i];
        a->name = kind == 0x00 ? cm_read_string(d) : cm_read_extern_name(d);
        if (!a->name || !cm_read_sort(d, &a->sort)) return false;
        a->idx = qe_read_u32(d->r);
        void *unused = NULL;
        if (!ok_or_fail(d) || !cm_lookup(d, a->sort, a->idx, a->name, &unused)) return false;
        if (a->sort == S_VALUE) return cm_fail(d, "instance argument '%s': values are not supported", a->name);
    }
    if (!cm_names_init(&def->argix, d->arena, def->nargs)) return cm_fail(d, "out of memory");
    for (uint32_t i = 0; i < def->nargs; i++)
        if (!cm_names_add(&def->argix, def->args[i].name, i, NULL))
            return cm_fail(d, "instance: the name '%s' is given twice", def->args[i].name);
    cm_type *it;
    if (ctype) {
        /* Every import of the component needs an argument of its sort. */
        for (uint32_t i = 0; i < ctype->nimports; i++) {
            const cm_extern *imp = &ctype->externs[i];
            int64_t k = cm_names_find(&def->argix, imp->name);
            const cm_arg *a = k < 0 ? NULL : &def->args[k];
            if (!a) return cm_fail(d, "instance: component %u imports '%s', which is not given", def->idx, imp->name);
            if (a->sort != imp->sort)
                return cm_fail(d, "instance: '%s' must be a %s, not a %s", imp->name, cm_sort_name(imp->sort),
                               cm_sort_name(a->sort));
        }
        it = cm_new_type(d, CM_INSTANCE, 0);
        if (!it) return cm_fail(d, "out of memory");
        it->n = ctype->n - ctype->nimports;
        it->externs = ctype->externs + ctype->nimports;
        if (!cm_index_exports(d, it, 0)) return false;
    } else {
        it = cm_new_type(d, CM_INSTANCE, 0);
        if (!it || !(it->externs = cm_alloc(d->arena, (def->nargs ? def->nargs : 1) * sizeof *it->externs)))
            return cm_fail(d, "out of memory");
        it->n = def->nargs;
        for (uint32_t i = 0; i < def->nargs; i++)
            it->externs[i] = (cm_extern){def->args[i].name, def->args[i].sort,
                                         static_type(d, def->args[i].sort, def->args[i].idx)};
        if (!cm_index_exports(d, it, 0)) return false;
    }
    return cm_define(d, S_INSTANCE, it);
}

static bool read_opts(dstate *d, cm_def *def, bool lift)
{
    uint32_t n = qe_read_u32(d->r);
    if (!ok_or_fail(d)) return false;
    bool seen_encoding = false;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t o = qe_read_u8(d->r);
        if (!ok_or_fail(d)) return false;
        void *unused = NULL;
        switch (o) {
        case 0x00: case 0x01: case 0x02:
            if (seen_encoding) return cm_fail(d, "canonical options: the string encoding is given twice");
            seen_encoding = true;
            def->opts.encoding = o;
            break;
        case 0x03:
            if (def->opts.memory >= 0) return cm_fail(d, "canonical options: memory is given twice");
            def->opts.memory = qe_read_u32(d->r);
            if (!ok_or_fail(d) || !cm_lookup(d, S_CORE_MEMORY, (uint32_t)def->opts.memory, "canonical option memory", &unused))
                return false;
            break;
        case 0x04:
        case 0x05: {
            int64_t *slot = o == 0x04 ? &def->opts.realloc : &def->opts.post_return;
            if (*slot >= 0) return cm_fail(d, "canonical options: %s is given twice", o == 0x04 ? "realloc" : "post-return");
            if (o == 0x05 && !lift) return cm_fail(d, "canonical options: post-return is only allowed on canon lift");
            *slot = qe_read_u32(d->r);
            if (!ok_or_fail(d) || !cm_lookup(d, S_CORE_FUNC, (uint32_t)*slot, o == 0x04 ? "realloc" : "post-return", &unused))
                return false;
            break;
        }
        case 0x06: return cm_fail(d, "canonical option async is not supported");
        case 0x07: return cm_fail(d, "canonical option callback (async) is not supported");
        default: return cm_fail(d, "canonical option 0x%02x is not supported", o);
        }
    }
    return true;
}

/* Does a value of type t hold strings or lists (which need memory and,
 * going into wasm, realloc)? */
static bool holds_pointers(const cm_type *t)
{
    if (!t) return false;
    if (t->kind == QV_C_STRING || t->kind == QV_C_LIST) return true;
    if (t->kind == QV_C_OWN || t->kind == QV_C_BORROW || t->kind == QV_C_FLAGS || t->kind == QV_C_ENUM) return false;
    uint32_t n = t->kind == QV_C_OPTION ? 1 : t->kind == QV_C_RESULT ? 2 : t->n;
    for (uint32_t i = 0; t->elems && i < n; i++)
        if (holds_pointers(t->elems[i])) return true;
    return false;
}

/* The options a function type needs, as CanonicalABI.md's validation says. */
static bool check_opts(dstate *d, const cm_def *def, const cm_type *f, bool lift)
{
    cm_coresig sig;
    cm_core_signature(f, !lift, &sig);
    bool params_ptr = false, results_ptr = false;
    for (uint32_t i = 0; i < f->n; i++) params_ptr |= holds_pointers(f->elems[i]);
    results_ptr = holds_pointers(f->result);
    bool memory = params_ptr || results_ptr || sig.params_in_memory || sig.results_in_memory;
    /* Values going into wasm are allocated there with realloc. */
    bool realloc_ = lift ? params_ptr || sig.params_in_memory : results_ptr;
    const char *what = lift ? "canon lift" : "canon lower";
    if (memory && def->opts.memory < 0) return cm_fail(d, "%s: the function passes lists, strings or many values and needs a memory option", what);
    if (realloc_ && def->opts.realloc < 0) return cm_fail(d, "%s: the function passes lists or strings into wasm and needs a realloc option", what);
    return true;
}

static bool canon(dstate *d)
{
    uint8_t kind = qe_read_u8(d->r);
    if (!ok_or_fail(d)) return false;
    cm_def *def;
    void *t = NULL;
    switch (kind) {
    case 0x00:
    case 0x01:
        if (qe_read_u8(d->r) != 0x00 || !ok_or_fail(d)) return d->failed ? false : cm_fail(d, "malformed canon %s", kind ? "lower" : "lift");
        if (!(def = new_def(d, kind ? OP_LOWER : OP_LIFT, kind ? S_CORE_FUNC : S_FUNC))) return false;
        def->idx = qe_read_u32(d->r);
        if (!ok_or_fail(d) || !cm_lookup(d, kind ? S_FUNC : S_CORE_FUNC, def->idx, kind ? "canon lower" : "canon lift", &t))
            return false;
        if (!read_opts(d, def, !kind)) return false;
        if (kind == 0x00) {
            uint32_t ti = qe_read_u32(d->r);
            if (!ok_or_fail(d) || !cm_lookup(d, S_TYPE, ti, "canon lift", &t)) return false;
            if (((cm_type *)t)->kind != CM_FUNC) return cm_fail(d, "canon lift: type %u is not a function type", ti);
        }
        def->type = t;
        if (!check_opts(d, def, def->type, kind == 0x00)) return false;
        cm_coresig sig;
        cm_core_signature(def->type, kind != 0x00, &sig);
        static const qv_valtype realloc_type[5] = {QV_I32, QV_I32, QV_I32, QV_I32, QV_I32};
        if (def->opts.realloc >= 0 && !cm_check_core_func(d, (uint32_t)def->opts.realloc, realloc_type, 4, 1, "realloc"))
            return false;
        if (kind == 0x00) {
            if (!cm_check_core_func(d, def->idx, sig.types, sig.nparams, sig.nresults, "canon lift")) return false;
            if (def->opts.post_return >= 0 &&
                !cm_check_core_func(d, (uint32_t)def->opts.post_return, sig.types + sig.nparams, sig.nresults, 0, "post-return"))
                return false;
            return cm_define(d, S_FUNC, t);
        }
        qv_functype *ft = cm_new_functype(d, (qv_functype){sig.nparams, sig.nresults, sig.types});
        return ft && cm_define(d, S_CORE_FUNC, ft);
    case 0x02: case 0x03: case 0x04: {
        static const uint8_t ops[] = {OP_RES_NEW, OP_RES_DROP, OP_RES_REP};
        static const char *const names[] = {"canon resource.new", "canon resource.drop", "canon resource.rep"};
        if (!(def = new_def(d, ops[kind - 2], S_CORE_FUNC))) return false;
        uint32_t ti = qe_read_u32(d->r);
        if (!ok_or_fail(d) || !cm_lookup(d, S_TYPE, ti, names[kind - 2], &t)) return false;
        if (((cm_type *)t)->kind != CM_RESOURCE) return cm_fail(d, "%s: type %u is not a resource type", names[kind - 2], ti);
        if (kind != 0x03 && !((cm_type *)t)->defined)
            return cm_fail(d, "%s: type %u is not defined by this component", names[kind - 2], ti);
        def->type = t;
        static const qv_valtype i32s[2] = {QV_I32, QV_I32};
        qv_functype *ft = cm_new_functype(d, (qv_functype){1, kind == 0x03 ? 0 : 1, i32s});
        return ft && cm_define(d, S_CORE_FUNC, ft);
    }
    case 0x07: return cm_fail(d, "canon resource.drop async is not supported");
    case 0x05: case 0x06: return cm_fail(d, "canon 0x%02x (threads) is not supported", kind);
    default: return cm_fail(d, "canon 0x%02x (async tasks, streams or futures) is not supported", kind);
    }
}

static bool import_or_export(dstate *d, bool import)
{
    qv_component *c = d->c;
    char *name = cm_read_extern_name(d);
    if (!name) return false;
    uint32_t first;
    if (!cm_names_add(import ? &d->import_names : &d->export_names, name, 0, &first))
        return first == UINT32_MAX ? cm_fail(d, "out of memory")
                                   : cm_fail(d, "the %s '%s' is declared twice", import ? "import" : "export", name);
    cm_def *def = new_def(d, import ? OP_IMPORT : OP_EXPORT, S_COUNT);
    if (!def) return false;
    def->name = name;
    cm_sort sort;
    cm_type *type = NULL;
    if (import) {
        if (!cm_read_externdesc(d, name, &sort, &type)) return false;
    } else {
        if (!cm_read_sort(d, &sort)) return false;
        def->idx = qe_read_u32(d->r);
        void *unused = NULL;
        if (!ok_or_fail(d) || !cm_lookup(d, sort, def->idx, name, &unused)) return false;
        if (sort == S_VALUE) return cm_fail(d, "export '%s': values are not supported", name);
        type = static_type(d, sort, def->idx);
        uint8_t has = qe_read_u8(d->r);
        if (!ok_or_fail(d)) return false;
        if (has == 0x01) {
            cm_sort asort;
            cm_type *ascribed;
            if (!cm_read_externdesc(d, name, &asort, &ascribed)) return false;
            if (asort != sort) return cm_fail(d, "export '%s': a %s cannot be exported as a %s", name, cm_sort_name(sort), cm_sort_name(asort));
            if (sort == S_FUNC || sort == S_INSTANCE || sort == S_COMPONENT) type = ascribed;
            /* A type exported as `sub resource` stays the same type here:
             * only components outside see it as abstract. */
        } else if (has) {
            return cm_fail(d, "export '%s': malformed type ascription 0x%02x", name, has);
        }
    }
    def->sort = sort;
    def->type = type;
    if (sort == S_TYPE && type && type->kind == CM_RESOURCE && !type->defined && import) type->name = name;
    cm_extern **listp = import ? &c->imports : &c->exports;
    uint32_t *np = import ? &c->nimports : &c->nexports;
    cm_extern *grown = realloc(*listp, (*np + 1) * sizeof *grown);
    if (!grown) return cm_fail(d, "out of memory");
    *listp = grown;
    grown[(*np)++] = (cm_extern){name, sort, type};
    return cm_define(d, sort, sort == S_CORE_MODULE ? NULL : type);
}

static bool start_section(dstate *d)
{
    cm_def *def = new_def(d, OP_START, S_COUNT);
    if (!def) return false;
    def->idx = qe_read_u32(d->r);
    void *t = NULL;
    if (!ok_or_fail(d) || !cm_lookup(d, S_FUNC, def->idx, "start", &t)) return false;
    uint32_t nargs = qe_read_u32(d->r);
    if (!ok_or_fail(d)) return false;
    for (uint32_t i = 0; i < nargs; i++) qe_read_u32(d->r);
    uint32_t nres = qe_read_u32(d->r);
    if (!ok_or_fail(d)) return false;
    const cm_type *f = t;
    if (nargs || nres || f->n || f->result)
        return cm_fail(d, "start: start functions taking or returning values are not supported");
    return true;
}

/* The component type of a decoded component: its imports, then exports. */
static bool make_type(dstate *d)
{
    qv_component *c = d->c;
    cm_type *t = cm_new_type(d, CM_COMPONENT, 0);
    if (!t) return cm_fail(d, "out of memory");
    t->n = c->nimports + c->nexports;
    t->nimports = c->nimports;
    t->externs = cm_alloc(d->arena, (t->n ? t->n : 1) * sizeof *t->externs);
    if (!t->externs) return cm_fail(d, "out of memory");
    if (c->nimports) memcpy(t->externs, c->imports, c->nimports * sizeof *t->externs);
    if (c->nexports) memcpy(t->externs + c->nimports, c->exports, c->nexports * sizeof *t->externs);
    c->type = t;
    return cm_index_exports(d, t, c->nimports);
}

static bool read_sections(dstate *d)
{
    qe_reader *r = d->r;
    while (!qe_reader_at_end(r)) {
        uint8_t id = qe_read_u8(r);
        uint32_t size = qe_read_u32(r);
        if (!ok_or_fail(d)) return false;
        if (size > (size_t)(r->end - r->p)) return cm_fail(d, "section %u: size %u goes past the end", id, size);
        const uint8_t *start = r->p, *end = r->p + size;
        qe_reader sub;
        qe_reader_init(&sub, r->base, start, end);
        d->r = &sub;
        bool ok = true;
        switch (id) {
        case 0: /* custom: a name, then anything */
            ok = cm_read_string(d) != NULL;
            sub.p = end;
            break;
        case 1: ok = core_module_section(d, start, size); sub.p = end; break;
        case 4: ok = component_section(d, start, size); sub.p = end; break;
        case 9: ok = start_section(d); break;
        case 12: ok = cm_fail(d, "value definitions are not supported"); break;
        case 2: case 3: case 5: case 6: case 7: case 8: case 10: case 11: {
            uint32_t n = qe_read_u32(&sub);
            ok = ok_or_fail(d);
            for (uint32_t i = 0; ok && i < n; i++) {
                switch (id) {
                case 2: ok = core_instance(d); break;
                case 3: ok = cm_read_core_type(d); break;
                case 5: ok = instance(d); break;
                case 6: {
                    cm_def *def = new_def(d, OP_ALIAS_EXPORT, S_COUNT);
                    ok = def && cm_read_alias(d, def);
                    break;
                }
                case 7: {
                    cm_def *def = new_def(d, OP_TYPE, S_TYPE);
                    ok = def && cm_read_deftype(d);
                    if (ok) def->type = d->space[S_TYPE].at[d->space[S_TYPE].n - 1];
                    break;
                }
                case 8: ok = canon(d); break;
                case 10: ok = import_or_export(d, true); break;
                case 11: ok = import_or_export(d, false); break;
                }
            }
            break;
        }
        default:
            ok = cm_fail(d, "unknown section id %u", id);
        }
        d->r = r;
        if (!ok) return false;
        if (sub.p != end) {
            r->p = sub.p;
            return cm_fail(d, "section %u: %zu bytes left over", id, (size_t)(end - sub.p));
        }
        r->p = end;
    }
    return make_type(d);
}

static void free_component(qv_component *c)
{
    if (!c) return;
    for (uint32_t i = 0; i < c->nmodules; i++) qv_module_delete(c->modules[i]);
    for (uint32_t i = 0; i < c->ncomponents; i++) free_component(c->components[i]);
    free(c->modules);
    free(c->components);
    free(c->defs);
    free(c->imports);
    free(c->exports);
    free(c);
}

static qv_component *decode(dstate *outer, const uint8_t *base, const uint8_t *start, const uint8_t *end,
                            cm_arena *arena, uint32_t *nrids, qv_error *err)
{
    qv_component *c = calloc(1, sizeof *c);
    qe_reader r;
    qe_reader_init(&r, base, start, end);
    dstate d = {.outer = outer, .c = c, .arena = arena, .nrids = nrids, .r = &r, .err = err};
    bool ok = c != NULL;
    if (!ok) cm_fail(&d, "out of memory");
    if (ok && ((size_t)(end - start) < 8 || memcmp(start, component_preamble, 8))) {
        ok = (size_t)(end - start) >= 8 && !memcmp(start, component_preamble, 4) && start[4] == 0x01
                 ? cm_fail(&d, "a core module where a component was expected")
                 : cm_fail(&d, "not a component: bad preamble (magic, version 0x0d or layer 1)");
    }
    if (ok) {
        r.p = start + 8;
        ok = (cm_names_init(&d.import_names, arena, 8) && cm_names_init(&d.export_names, arena, 8)) ||
             cm_fail(&d, "out of memory");
        ok = ok && read_sections(&d);
    }
    for (int s = 0; s < S_COUNT; s++) cm_vec_free(&d.space[s]);
    if (!ok) {
        free_component(c);
        return NULL;
    }
    return c;
}

qv_component *qv_component_new(const uint8_t *bytes, size_t len, qv_error *err)
{
    qv_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    err->func_index = -1;
    cm_arena arena = {0};
    uint32_t nrids = 0;
    qv_component *c = decode(NULL, bytes, bytes, bytes + len, &arena, &nrids, err);
    if (!c) {
        cm_arena_free(&arena);
        return NULL;
    }
    c->arena = arena;
    c->nrids = nrids;
    return c;
}

void qv_component_delete(qv_component *c)
{
    if (!c) return;
    cm_arena arena = c->arena;
    free_component(c);
    cm_arena_free(&arena);
}

size_t qv_component_import_count(const qv_component *c) { return c->nimports; }
const char *qv_component_import_name(const qv_component *c, size_t i) { return i < c->nimports ? c->imports[i].name : NULL; }
size_t qv_component_export_count(const qv_component *c) { return c->nexports; }
const char *qv_component_export_name(const qv_component *c, size_t i) { return i < c->nexports ? c->exports[i].name : NULL; }

const char *qv_component_find_export(const qv_component *c, const char *iface)
{
    char want[256], have[256];
    cm_semver_key(iface, want, sizeof want);
    for (uint32_t i = 0; i < c->nexports; i++) {
        cm_semver_key(c->exports[i].name, have, sizeof have);
        if (!strcmp(want, have)) return c->exports[i].name;
    }
    return NULL;
}
