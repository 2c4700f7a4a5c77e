/*
 * action.c — invoke and get actions (see action.h).
 */
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "values.h"

static spec_action_result failed(void) { return (spec_action_result){.outcome = SPEC_ACTION_FAILED}; }

static spec_action_result get_global(spec_session *s, const char *field, const qv_extern *ext)
{
    if (ext->kind != QV_EXTERN_GLOBAL) {
        spec_fail(s, "export \"%s\" is not a global", field);
        return failed();
    }
    spec_action_result r = {.outcome = SPEC_ACTION_RETURNED, .count = 1};
    r.values = malloc(sizeof *r.values);
    if (!r.values) {
        spec_fail(s, "out of memory");
        return failed();
    }
    r.values[0] = qv_global_get(ext->of.global);
    return r;
}

/* Parse the arguments and check them against the function's type, so that
 * a mismatch is reported as the script's or the export's problem rather
 * than passing as a trap. */
static bool parse_args(spec_session *s, json_t *jargs, qv_functype type, qv_val *args, bool *simd)
{
    size_t nargs = json_array_size(jargs);
    *simd = false;
    for (size_t i = 0; i < nargs; i++) {
        json_t *j = json_array_get(jargs, i);
        char why[128];
        spec_parse_status st =
            spec_parse_arg(spec_json_string(j, "type"), spec_json_string(j, "value"), &args[i], why, sizeof why);
        if (st == SPEC_PARSE_UNSUPPORTED) {
            *simd = true;
            return false;
        }
        if (st == SPEC_PARSE_ERROR) {
            spec_fail(s, "argument %zu: %s", i + 1, why);
            return false;
        }
    }
    if (nargs != type.nparams) {
        spec_fail(s, "the script passes %zu arguments, the function takes %u", nargs, type.nparams);
        return false;
    }
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].type != type.types[i]) {
            spec_fail(s, "argument %zu is %s, the function takes %s", i + 1, spec_type_name(args[i].type),
                      spec_type_name(type.types[i]));
            return false;
        }
    }
    return true;
}

static spec_action_result invoke(spec_session *s, json_t *action, const char *field, const qv_extern *ext)
{
    if (ext->kind != QV_EXTERN_FUNC) {
        spec_fail(s, "export \"%s\" is not a function", field);
        return failed();
    }
    json_t *jargs = json_object_get(action, "args");
    qv_functype type = qv_func_type(ext->of.func);
    size_t nargs = json_array_size(jargs);
    /* +1: malloc(0) may return NULL, which would look like a failure. */
    qv_val *args = malloc((nargs + 1) * sizeof *args);
    qv_val *results = calloc(type.nresults + 1, sizeof *results);
    if (!args || !results) {
        free(args);
        free(results);
        spec_fail(s, "out of memory");
        return failed();
    }
    bool simd;
    if (!parse_args(s, jargs, type, args, &simd)) {
        free(args);
        free(results);
        if (!simd) return failed();
        spec_skip(s, SPEC_SKIP_SIMD);
        return (spec_action_result){.outcome = SPEC_ACTION_SKIPPED};
    }
    for (uint32_t i = 0; i < type.nresults; i++) results[i].type = type.types[type.nparams + i];
    spec_action_result r = {.values = results, .count = type.nresults};
    r.trap = qv_func_call(s->store, ext->of.func, args, nargs, results, type.nresults);
    r.outcome = r.trap ? SPEC_ACTION_TRAPPED : SPEC_ACTION_RETURNED;
    free(args);
    return r;
}

spec_action_result spec_perform_action(spec_session *s, json_t *action)
{
    const char *type = spec_json_string(action, "type");
    json_t *jfield = json_object_get(action, "field");
    const char *field = json_string_value(jfield);
    if (!type || !field) {
        spec_fail(s, "the action has no \"type\" or no \"field\"");
        return failed();
    }
    qv_instance *inst;
    char why[128];
    if (!spec_session_find(s, spec_json_string(action, "module"), &inst, why, sizeof why)) {
        spec_fail(s, "cannot %s \"%s\": %s", type, field, why);
        return failed();
    }
    qv_extern ext;
    /* Export names may contain NUL bytes. */
    if (!qv_instance_export_bytes(inst, field, json_string_length(jfield), &ext)) {
        spec_fail(s, "the module has no export \"%s\"", field);
        return failed();
    }
    if (strcmp(type, "invoke") == 0) return invoke(s, action, field, &ext);
    if (strcmp(type, "get") == 0) return get_global(s, field, &ext);
    spec_fail(s, "unknown action type \"%s\"", type);
    return failed();
}

void spec_action_result_free(spec_action_result *r)
{
    free(r->values);
    if (r->trap) qv_trap_delete(r->trap);
    *r = (spec_action_result){.outcome = SPEC_ACTION_FAILED};
}
