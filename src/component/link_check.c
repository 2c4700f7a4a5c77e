/*
 * link_check.c — a component's imports checked against a host without
 * instantiating it (qv_component_check_imports): what a server does once
 * when it loads an app, so that a component the host cannot link is
 * refused then, with the same message instantiation would give, rather
 * than failing every request.
 */
#include <stdarg.h>
#include <stdio.h>

#include "component/host.h"
#include "component/model.h"
#include "component/types.h"

static bool refuse(qv_error *err, const cm_def *def, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool refuse(qv_error *err, const cm_def *def, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->offset = def->offset;
    err->func_index = -1;
    return false;
}

/* Which of the component's resources is which host resource is decided
 * when instantiating; here any resource stands for any other. */
static bool any_resource(void *env, const cm_type *a, const cm_type *b)
{
    (void)env;
    return a->kind == CM_RESOURCE && b->kind == CM_RESOURCE;
}

bool qv_component_check_imports(const qv_component *c, const qv_chost *host, qv_error *err)
{
    for (uint32_t d = 0; d < c->ndefs; d++) {
        const cm_def *def = &c->defs[d];
        if (def->op != OP_IMPORT) continue;
        if (def->sort != S_INSTANCE)
            return refuse(err, def, "unknown import: %s (the host provides instances of interfaces, not a bare %s)",
                          def->name, cm_sort_name(def->sort));
        host_iface *hi = cm_host_iface(host, def->name);
        if (!hi) return refuse(err, def, "unknown import: %s (the host has no such interface)", def->name);
        const cm_type *it = def->type;
        for (uint32_t i = 0; i < it->n; i++) {
            const cm_extern *e = &it->externs[i];
            if (e->sort == S_TYPE) {
                if (e->type->kind != CM_RESOURCE || e->type->defined) continue;
                const cm_type *res = cm_host_named(hi, e->name);
                if (!res || res->kind != CM_RESOURCE)
                    return refuse(err, def, "unknown import: resource %s in %s", e->name, def->name);
            } else if (e->sort == S_FUNC) {
                host_func *hf = cm_host_func(hi, e->name);
                if (!hf) return refuse(err, def, "unknown import: %s#%s (the host has no such function)", def->name, e->name);
                char why[160] = "";
                if (!cm_type_equal(e->type, hf->type, any_resource, NULL, why, sizeof why))
                    return refuse(err, def, "import %s#%s has another type than the host's: %s", def->name, e->name, why);
            } else {
                return refuse(err, def, "import %s: the host cannot provide the %s '%s'", def->name,
                              cm_sort_name(e->sort), e->name);
            }
        }
    }
    return true;
}
