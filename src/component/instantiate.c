/*
 * instantiate.c — instantiating a component: its definitions replayed in
 * order, each adding an engine object (or a component-level item) to its
 * index space. Imports bind to host interfaces (checked against their
 * WIT types) or, in nested components, to the instantiation's arguments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/host.h"

/* An item given to a nested instantiation or exported: (name, sort, item). */
typedef struct rt_arg {
    const char *name;
    cm_sort sort;
    void *item;
    const cm_type *type;    /* types: the static type given */
} rt_arg;

typedef struct build {
    cm_inst *inst;
    const qv_chost *host;
    const rt_arg *args;     /* nested: what the imports bind to */
    uint32_t nargs;
    const cm_names *argix;  /* their names */
    uint32_t fill[S_COUNT];
    qv_trap **trap;
    qv_error *err;
    cm_vec exports;         /* rt_arg * */
} build;

static bool link_error(build *b, const cm_def *def, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool link_error(build *b, const cm_def *def, const char *fmt, ...)
{
    if (b->err && !b->err->message[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
        va_end(ap);
        b->err->offset = def ? def->offset : 0;
        b->err->func_index = -1;
    }
    return false;
}

static bool put(build *b, cm_sort sort, void *item)
{
    b->inst->items[sort][b->fill[sort]++] = item;
    return true;
}

static void *get(build *b, cm_sort sort, uint32_t idx) { return b->inst->items[sort][idx]; }

static qv_extern core_extern(build *b, cm_sort sort, uint32_t idx)
{
    qv_extern e = {.kind = (qv_externkind)sort};
    void *p = get(b, sort, idx);
    switch (sort) {
    case S_CORE_FUNC: e.of.func = p; break;
    case S_CORE_TABLE: e.of.table = p; break;
    case S_CORE_MEMORY: e.of.memory = p; break;
    default: e.of.global = p; break;
    }
    return e;
}

static void *extern_item(const qv_extern *e)
{
    switch (e->kind) {
    case QV_EXTERN_FUNC: return e->of.func;
    case QV_EXTERN_TABLE: return e->of.table;
    case QV_EXTERN_MEMORY: return e->of.memory;
    default: return e->of.global;
    }
}

static bool core_export(const cm_core_rinst *ci, const char *name, qv_extern *out)
{
    if (ci->inst) return qv_instance_export(ci->inst, name, out);
    int64_t i = cm_names_find(&ci->index, name);
    if (i >= 0) *out = ci->exts[i];
    return i >= 0;
}

static const char *kind_name(qv_externkind k) { return cm_sort_name((cm_sort)k); }

static bool core_instantiate(build *b, const cm_def *def)
{
    const qv_module *m = get(b, S_CORE_MODULE, def->idx);
    size_t n = qv_module_import_count(m);
    qv_extern *imports = calloc(n ? n : 1, sizeof *imports);
    cm_core_rinst *ci = cm_alloc(b->inst->arena, sizeof *ci);
    if (!imports || !ci) {
        free(imports);
        return link_error(b, def, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *mod, *name;
        qv_externkind kind;
        qv_module_import(m, i, &mod, &name, &kind);
        int64_t k = cm_names_find(&def->argix, mod);
        const cm_arg *a = k < 0 ? NULL : &def->args[k];
        if (!a) {
            free(imports);
            return link_error(b, def, "core instance of module %u: its import %s.%s is not given", def->idx, mod, name);
        }
        if (!core_export(get(b, S_CORE_INSTANCE, a->idx), name, &imports[i])) {
            free(imports);
            return link_error(b, def, "core instance of module %u: core instance %u has no export '%s' for import %s.%s",
                              def->idx, a->idx, name, mod, name);
        }
        if (imports[i].kind != kind) {
            qv_externkind given = imports[i].kind;
            free(imports);
            return link_error(b, def, "core instance of module %u: import %s.%s is a %s, given a %s", def->idx, mod, name,
                              kind_name(kind), kind_name(given));
        }
    }
    qv_error err = {0};
    ci->inst = qv_instance_new(b->inst->store, m, imports, n, b->trap, &err);
    free(imports);
    if (!ci->inst)
        return *b->trap ? false : link_error(b, def, "core instance of module %u: %s", def->idx, err.message);
    return put(b, S_CORE_INSTANCE, ci);
}

static bool core_inline(build *b, const cm_def *def)
{
    cm_core_rinst *ci = cm_alloc(b->inst->arena, sizeof *ci);
    if (!ci || !(ci->names = cm_alloc(b->inst->arena, (def->nargs + 1) * sizeof *ci->names)) ||
        !(ci->exts = cm_alloc(b->inst->arena, (def->nargs + 1) * sizeof *ci->exts)))
        return link_error(b, def, "out of memory");
    ci->n = def->nargs;
    for (uint32_t i = 0; i < def->nargs; i++) {
        ci->names[i] = def->args[i].name;
        ci->exts[i] = core_extern(b, def->args[i].sort, def->args[i].idx);
    }
    ci->index = def->argix.keys ? def->argix : ci->index;
    if (!ci->index.keys) {
        if (!cm_names_init(&ci->index, b->inst->arena, ci->n)) return link_error(b, def, "out of memory");
        for (uint32_t i = 0; i < ci->n; i++) cm_names_add(&ci->index, ci->names[i], i, NULL);
    }
    return put(b, S_CORE_INSTANCE, ci);
}

static cm_rinst *new_rinst(build *b, uint32_t n)
{
    cm_rinst *r = cm_alloc(b->inst->arena, sizeof *r);
    if (!r) return NULL;
    r->n = n;
    r->names = cm_alloc(b->inst->arena, (n + 1) * sizeof *r->names);
    r->sorts = cm_alloc(b->inst->arena, (n + 1) * sizeof *r->sorts);
    r->items = cm_alloc(b->inst->arena, (n + 1) * sizeof *r->items);
    return r->names && r->sorts && r->items ? r : NULL;
}

/* Index a filled component instance item by its export names. */
static bool index_rinst(build *b, cm_rinst *r)
{
    if (!cm_names_init(&r->index, b->inst->arena, r->n)) return false;
    for (uint32_t i = 0; i < r->n; i++) cm_names_add(&r->index, r->names[i], i, NULL);
    return true;
}

static void *find_item(const cm_rinst *r, const char *name, cm_sort sort)
{
    int64_t i = cm_names_find(&r->index, name);
    return i >= 0 && r->sorts[i] == sort ? r->items[i] : NULL;
}

static bool bind_resource(build *b, const cm_def *def, const cm_type *node, cm_restype *rt)
{
    cm_restype **slot = &b->inst->root->rtypes[node->rid];
    if (*slot && *slot != rt)
        return link_error(b, def, "resource type '%s' is bound to two different resources", node->name);
    *slot = rt;
    return true;
}

static bool same_resource(void *env, const cm_type *a, const cm_type *b)
{
    cm_restype *ra = cm_rtype(env, a), *rb = cm_rtype(env, b);
    return ra && ra == rb;
}

/* An imported instance, bound to the host interface of that name. */
static bool import_host_instance(build *b, const cm_def *def)
{
    const cm_type *it = def->type;
    host_iface *hi = cm_host_iface(b->host, def->name);
    if (!hi) return link_error(b, def, "unknown import: %s (the host has no such interface)", def->name);
    cm_rinst *r = new_rinst(b, it->n);
    if (!r) return link_error(b, def, "out of memory");
    for (uint32_t i = 0; i < it->n; i++) {
        const cm_extern *e = &it->externs[i];
        r->names[i] = e->name;
        r->sorts[i] = e->sort;
        if (e->sort == S_TYPE) {
            if (e->type->kind != CM_RESOURCE || e->type->defined) continue; /* value types: checked with the functions */
            cm_type *host_res = cm_host_named(hi, e->name);
            if (!host_res || host_res->kind != CM_RESOURCE)
                return link_error(b, def, "unknown import: resource %s in %s", e->name, def->name);
            if (!bind_resource(b, def, e->type, (cm_restype *)host_res->host)) return false;
        } else if (e->sort == S_FUNC) {
            host_func *hf = cm_host_func(hi, e->name);
            if (!hf) return link_error(b, def, "unknown import: %s#%s (the host has no such function)", def->name, e->name);
            char why[160] = "";
            if (!cm_type_equal(e->type, hf->type, same_resource, b->inst, why, sizeof why))
                return link_error(b, def, "import %s#%s has another type than the host's: %s", def->name, e->name, why);
            r->items[i] = &hf->func;
        } else {
            return link_error(b, def, "import %s: the host cannot provide the %s '%s'", def->name, cm_sort_name(e->sort), e->name);
        }
    }
    return index_rinst(b, r) ? put(b, S_INSTANCE, r) : link_error(b, def, "out of memory");
}

static bool import(build *b, const cm_def *def)
{
    if (!b->args) {
        if (def->sort == S_INSTANCE) return import_host_instance(b, def);
        return link_error(b, def, "unknown import: %s (the host provides instances of interfaces, not a bare %s)", def->name,
                          cm_sort_name(def->sort));
    }
    int64_t i = cm_names_find(b->argix, def->name);
    const rt_arg *a = i < 0 ? NULL : &b->args[i];
    if (!a) return link_error(b, def, "import %s is not given", def->name);
    if (def->sort == S_TYPE && def->type->kind == CM_RESOURCE && !def->type->defined) {
        cm_restype *rt = cm_rtype(b->inst, a->type);
        if (!rt) return link_error(b, def, "import %s: a resource type is needed", def->name);
        if (!bind_resource(b, def, def->type, rt)) return false;
    }
    return put(b, def->sort, a->item);
}

static bool check_core_type(build *b, const cm_def *def, qv_func *f, const qv_valtype *types, uint32_t np, uint32_t nr,
                            const char *what)
{
    qv_functype t = qv_func_type(f);
    bool same = t.nparams == np && t.nresults == nr;
    for (uint32_t i = 0; same && i < np + nr; i++) same = t.types[i] == types[i];
    if (same) return true;
    char want[80] = "", have[80] = "";
    size_t w = 0, h = 0;
    for (uint32_t i = 0; i < np + nr; i++)
        w += (size_t)snprintf(want + w, w < sizeof want ? sizeof want - w : 0, "%s%s", i == np ? " -> " : i ? " " : "", qv_valtype_name(types[i]));
    for (uint32_t i = 0; i < t.nparams + t.nresults; i++)
        h += (size_t)snprintf(have + h, h < sizeof have ? sizeof have - h : 0, "%s%s", i == t.nparams ? " -> " : i ? " " : "",
                              qv_valtype_name(t.types[i]));
    return link_error(b, def, "%s: the core function has type (%s), the canonical ABI needs (%s)", what, have, want);
}

static bool resolve_opts(build *b, const cm_def *def, cm_ropts *o, const char *what)
{
    o->encoding = def->opts.encoding;
    if (def->opts.memory >= 0) o->memory = get(b, S_CORE_MEMORY, (uint32_t)def->opts.memory);
    if (def->opts.realloc >= 0) {
        o->realloc = get(b, S_CORE_FUNC, (uint32_t)def->opts.realloc);
        static const qv_valtype rt[5] = {QV_I32, QV_I32, QV_I32, QV_I32, QV_I32};
        if (!check_core_type(b, def, o->realloc, rt, 4, 1, "realloc")) return false;
    }
    if (def->opts.post_return >= 0) o->post_return = get(b, S_CORE_FUNC, (uint32_t)def->opts.post_return);
    (void)what;
    return true;
}

static bool lift(build *b, const cm_def *def)
{
    cm_func *f = cm_alloc(b->inst->arena, sizeof *f);
    if (!f) return link_error(b, def, "out of memory");
    f->type = def->type;
    f->owner = b->inst;
    f->core = get(b, S_CORE_FUNC, def->idx);
    if (!resolve_opts(b, def, &f->opts, "canon lift")) return false;
    cm_coresig sig;
    cm_core_signature(def->type, false, &sig);
    if (!check_core_type(b, def, f->core, sig.types, sig.nparams, sig.nresults, "canon lift")) return false;
    if (f->opts.post_return && !check_core_type(b, def, f->opts.post_return, sig.types + sig.nparams, sig.nresults, 0, "post-return"))
        return false;
    return put(b, S_FUNC, f);
}

static bool lower(build *b, const cm_def *def)
{
    cm_lower_env *e = cm_alloc(b->inst->arena, sizeof *e);
    if (!e) return link_error(b, def, "out of memory");
    e->inst = b->inst;
    e->type = def->type;
    e->callee = get(b, S_FUNC, def->idx);
    if (!e->callee) return link_error(b, def, "canon lower: function %u cannot be called", def->idx);
    if (!resolve_opts(b, def, &e->opts, "canon lower")) return false;
    cm_core_signature(def->type, true, &e->sig);
    qv_functype ft = {e->sig.nparams, e->sig.nresults, e->sig.types};
    qv_func *f = qv_func_new(b->inst->store, ft, cm_lowered_call, e, NULL);
    return f ? put(b, S_CORE_FUNC, f) : link_error(b, def, "out of memory");
}

static bool resource_func(build *b, const cm_def *def)
{
    cm_res_env *e = cm_alloc(b->inst->arena, sizeof *e);
    if (!e) return link_error(b, def, "out of memory");
    e->inst = b->inst;
    e->res = def->type;
    static const qv_valtype i32s[2] = {QV_I32, QV_I32};
    qv_functype ft = {1, def->op == OP_RES_DROP ? 0 : 1, i32s};
    qv_host_fn fn = def->op == OP_RES_NEW ? cm_resource_new : def->op == OP_RES_DROP ? cm_resource_drop : cm_resource_rep;
    qv_func *f = qv_func_new(b->inst->store, ft, fn, e, NULL);
    return f ? put(b, S_CORE_FUNC, f) : link_error(b, def, "out of memory");
}

static bool define_type(build *b, const cm_def *def)
{
    cm_type *t = def->type;
    if (t->kind == CM_RESOURCE && t->defined) {
        cm_restype *rt = cm_alloc(b->inst->arena, sizeof *rt);
        if (!rt) return link_error(b, def, "out of memory");
        rt->name = "resource";
        rt->owner = b->inst;
        if (t->dtor >= 0) rt->guest_dtor = get(b, S_CORE_FUNC, (uint32_t)t->dtor);
        b->inst->root->rtypes[t->rid] = rt;
    }
    return put(b, S_TYPE, t);
}

static bool instantiate_defs(build *b);

static cm_inst *new_inst(cm_inst *root, qv_store *store, const qv_component *c)
{
    cm_inst *inst = cm_alloc(root ? root->arena : NULL, sizeof *inst);
    if (!inst) return NULL;
    inst->store = store;
    inst->comp = c;
    inst->root = root;
    inst->arena = root->arena;
    inst->values = root->values;
    for (int s = 0; s < S_COUNT; s++)
        if (!(inst->items[s] = cm_alloc(root->arena, (c->count[s] + 1) * sizeof(void *)))) return NULL;
    cm_inst **grown = realloc(root->nested, (root->nnested + 1) * sizeof *grown);
    if (!grown) return NULL;
    root->nested = grown;
    root->nested[root->nnested++] = inst;
    return inst;
}

/* A component instance item made of what a build exported. */
static cm_rinst *exports_of(build *b, build *from)
{
    cm_rinst *r = new_rinst(b, from->exports.n);
    if (!r) return NULL;
    for (uint32_t i = 0; i < from->exports.n; i++) {
        rt_arg *a = from->exports.at[i];
        r->names[i] = a->name;
        r->sorts[i] = a->sort;
        r->items[i] = a->item;
    }
    return index_rinst(b, r) ? r : NULL;
}

static bool instantiate_nested(build *b, const cm_def *def)
{
    const qv_component *c = get(b, S_COMPONENT, def->idx);
    if (!c) return link_error(b, def, "instance: component %u cannot be instantiated", def->idx);
    rt_arg *args = cm_alloc(b->inst->arena, (def->nargs + 1) * sizeof *args);
    if (!args) return link_error(b, def, "out of memory");
    for (uint32_t i = 0; i < def->nargs; i++) {
        const cm_arg *a = &def->args[i];
        args[i] = (rt_arg){a->name, a->sort, get(b, a->sort, a->idx), a->sort == S_TYPE ? get(b, S_TYPE, a->idx) : NULL};
    }
    cm_inst *inst = new_inst(b->inst->root, b->inst->store, c);
    if (!inst) return link_error(b, def, "out of memory");
    build nb = {.inst = inst, .host = b->host, .args = args, .nargs = def->nargs, .argix = &def->argix, .trap = b->trap,
                .err = b->err};
    bool ok = instantiate_defs(&nb);
    cm_rinst *r = ok ? exports_of(b, &nb) : NULL;
    for (uint32_t i = 0; i < nb.exports.n; i++) free(nb.exports.at[i]);
    cm_vec_free(&nb.exports);
    if (!ok) return false;
    return r ? put(b, S_INSTANCE, r) : link_error(b, def, "out of memory");
}

static bool inline_instance(build *b, const cm_def *def)
{
    cm_rinst *r = new_rinst(b, def->nargs);
    if (!r) return link_error(b, def, "out of memory");
    for (uint32_t i = 0; i < def->nargs; i++) {
        r->names[i] = def->args[i].name;
        r->sorts[i] = def->args[i].sort;
        r->items[i] = get(b, def->args[i].sort, def->args[i].idx);
    }
    return index_rinst(b, r) ? put(b, S_INSTANCE, r) : link_error(b, def, "out of memory");
}

static bool alias_export(build *b, const cm_def *def)
{
    const cm_rinst *r = get(b, S_INSTANCE, def->idx);
    int64_t i = cm_names_find(&r->index, def->name);
    if (i >= 0 && r->sorts[i] == def->sort) return put(b, def->sort, def->sort == S_TYPE ? (void *)def->type : r->items[i]);
    return link_error(b, def, "alias export: instance %u has no %s '%s'", def->idx, cm_sort_name(def->sort), def->name);
}

static bool alias_core_export(build *b, const cm_def *def)
{
    qv_extern e;
    if (!core_export(get(b, S_CORE_INSTANCE, def->idx), def->name, &e))
        return link_error(b, def, "alias core export: core instance %u has no export '%s'", def->idx, def->name);
    if ((cm_sort)e.kind != def->sort)
        return link_error(b, def, "alias core export: '%s' is a %s, not a %s", def->name, kind_name(e.kind), cm_sort_name(def->sort));
    return put(b, def->sort, extern_item(&e));
}

static bool export(build *b, const cm_def *def)
{
    rt_arg *a = malloc(sizeof *a);
    if (!a) return link_error(b, def, "out of memory");
    *a = (rt_arg){def->name, def->sort, get(b, def->sort, def->idx), def->type};
    if (!cm_vec_push(&b->exports, a)) {
        free(a);
        return link_error(b, def, "out of memory");
    }
    return put(b, def->sort, a->item);
}

static bool start(build *b, const cm_def *def)
{
    cm_func *f = get(b, S_FUNC, def->idx);
    qv_trap *t = cm_call_func(b->inst, f, NULL, NULL, b->inst->values);
    if (t) *b->trap = t;
    return !t;
}

static bool instantiate_defs(build *b)
{
    const qv_component *c = b->inst->comp;
    for (uint32_t i = 0; i < c->ndefs; i++) {
        const cm_def *def = &c->defs[i];
        bool ok;
        switch (def->op) {
        case OP_CORE_MODULE: ok = put(b, S_CORE_MODULE, c->modules[def->idx]); break;
        case OP_CORE_INSTANTIATE: ok = core_instantiate(b, def); break;
        case OP_CORE_INLINE: ok = core_inline(b, def); break;
        case OP_COMPONENT: ok = put(b, S_COMPONENT, c->components[def->idx]); break;
        case OP_INSTANTIATE: ok = instantiate_nested(b, def); break;
        case OP_INLINE: ok = inline_instance(b, def); break;
        case OP_ALIAS_EXPORT: ok = alias_export(b, def); break;
        case OP_ALIAS_CORE_EXPORT: ok = alias_core_export(b, def); break;
        case OP_ALIAS_OUTER: ok = put(b, def->sort, (void *)def->outer); break;
        case OP_TYPE: ok = define_type(b, def); break;
        case OP_LIFT: ok = lift(b, def); break;
        case OP_LOWER: ok = lower(b, def); break;
        case OP_RES_NEW: case OP_RES_DROP: case OP_RES_REP: ok = resource_func(b, def); break;
        case OP_IMPORT: ok = import(b, def); break;
        case OP_EXPORT: ok = export(b, def); break;
        case OP_START: ok = start(b, def); break;
        default: ok = link_error(b, def, "internal error: unknown definition %u", def->op);
        }
        if (!ok) return false;
    }
    return true;
}

/* ------------------------------------------------------------ API */

struct qv_cinstance {
    cm_inst *root;
    cm_arena arenas[2];
    cm_rinst *exports;
};

void qv_cinstance_delete(qv_cinstance *ci)
{
    if (!ci) return;
    cm_inst *root = ci->root;
    if (root) {
        for (uint32_t i = 0; i < root->nnested; i++) cm_table_free(&root->nested[i]->table, root->store);
        free(root->nested);
        free(root->rtypes);
    }
    cm_arena_free(&ci->arenas[0]);
    cm_arena_free(&ci->arenas[1]);
    free(ci);
}

qv_cinstance *qv_cinstance_new(qv_store *store, const qv_component *c, const qv_chost *host, qv_trap **trap, qv_error *err)
{
    qv_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    *trap = NULL;
    qv_cinstance *ci = calloc(1, sizeof *ci);
    if (!ci) return NULL;
    cm_inst tmp = {.arena = &ci->arenas[0], .values = &ci->arenas[1]};
    tmp.root = &tmp;
    tmp.rtypes = calloc(c->nrids + 1, sizeof *tmp.rtypes);
    cm_inst *root = tmp.rtypes ? new_inst(&tmp, store, c) : NULL;
    if (!root) {
        free(tmp.rtypes);
        free(tmp.nested);
        qv_cinstance_delete(ci);
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    root->root = root;
    root->rtypes = tmp.rtypes;
    root->nested = tmp.nested;
    root->nnested = tmp.nnested;
    ci->root = root;
    build b = {.inst = root, .host = host, .trap = trap, .err = err};
    bool ok = instantiate_defs(&b);
    if (ok) ci->exports = exports_of(&b, &b);
    for (uint32_t i = 0; i < b.exports.n; i++) free(b.exports.at[i]);
    cm_vec_free(&b.exports);
    if (!ok || !ci->exports) {
        if (!*trap && !err->message[0]) snprintf(err->message, sizeof err->message, "out of memory");
        qv_cinstance_delete(ci);
        return NULL;
    }
    return ci;
}

void qv_cinstance_set_data(qv_cinstance *ci, void *data) { ci->root->data = data; }

const char *qv_cinstance_find_export(const qv_cinstance *ci, const char *iface)
{
    char want[256], have[256];
    cm_semver_key(iface, want, sizeof want);
    for (uint32_t i = 0; i < ci->exports->n; i++) {
        cm_semver_key(ci->exports->names[i], have, sizeof have);
        if (!strcmp(want, have)) return ci->exports->names[i];
    }
    return NULL;
}

qv_trap *qv_cinstance_call(qv_cinstance *ci, const char *iface, const char *func, const qv_cval *args, size_t nargs,
                           qv_cval *results, size_t nresults)
{
    char msg[300];
    const cm_rinst *scope = ci->exports;
    if (iface) {
        const char *name = qv_cinstance_find_export(ci, iface);
        scope = name ? find_item(ci->exports, name, S_INSTANCE) : NULL;
        if (!scope) {
            snprintf(msg, sizeof msg, "the component exports no instance %s", iface);
            return qv_trap_new(QV_TRAP_HOST, msg);
        }
    }
    cm_func *f = find_item(scope, func, S_FUNC);
    if (!f) {
        snprintf(msg, sizeof msg, "the component exports no function %s%s%s", iface ? iface : "", iface ? "#" : "", func);
        return qv_trap_new(QV_TRAP_HOST, msg);
    }
    if (nargs != f->type->n || nresults < (f->type->result ? 1u : 0u)) {
        snprintf(msg, sizeof msg, "%s takes %u arguments and returns %u results", func, f->type->n, f->type->result ? 1 : 0);
        return qv_trap_new(QV_TRAP_HOST, msg);
    }
    cm_arena_reset(ci->root->values);
    qv_cval scratch;
    return cm_call_func(ci->root, f, args, f->type->result ? results : &scratch, ci->root->values);
}
