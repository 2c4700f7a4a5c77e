/*
 * commands.c — the spec-test commands (see commands.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "commands.h"
#include "values.h"

#define VALUE_TEXT 128 /* room for one formatted value */

static const char *text_of(const spec_command *cmd)
{
    const char *text = spec_json_string(cmd->json, "text");
    return text ? text : "(no message given)";
}

static bool uses_v128(json_t *values)
{
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        const char *type = spec_json_string(v, "type");
        if (type && strcmp(type, "v128") == 0) return true;
    }
    return false;
}

static bool action_uses_v128(const spec_command *cmd)
{
    return uses_v128(json_object_get(json_object_get(cmd->json, "action"), "args")) ||
           uses_v128(json_object_get(cmd->json, "expected"));
}

static void describe_compile_error(const qv_error *err, char *buf, size_t size)
{
    if (err->func_index >= 0)
        snprintf(buf, size, "%s (function %lld, byte offset %zu)", err->message, (long long)err->func_index,
                 err->offset);
    else if (err->offset)
        snprintf(buf, size, "%s (byte offset %zu)", err->message, err->offset);
    else
        snprintf(buf, size, "%s", err->message);
}

/* Compile the command's module; on failure report it and return NULL. */
static qv_module *compile_or_fail(spec_session *s, const spec_command *cmd, const char *purpose)
{
    const char *filename = spec_json_string(cmd->json, "filename");
    qv_error err;
    bool unreadable;
    qv_module *m = spec_session_compile(s, filename, &err, &unreadable);
    if (m) return m;
    char detail[512];
    describe_compile_error(&err, detail, sizeof detail);
    if (unreadable)
        spec_fail(s, "%s", detail);
    else
        spec_fail(s, "%s was rejected%s: %s", filename, purpose, detail);
    return NULL;
}

static void run_module(spec_session *s, const spec_command *cmd)
{
    const char *name = spec_json_string(cmd->json, "name");
    qv_module *m = compile_or_fail(s, cmd, "");
    qv_instance *inst = NULL;
    if (m) {
        qv_trap *trap = NULL;
        qv_error err = {0};
        inst = qv_linker_instantiate(s->linker, m, &trap, &err);
        if (!inst && trap)
            spec_fail(s, "instantiation trapped: %s", qv_trap_message(trap));
        else if (!inst)
            spec_fail(s, "instantiation failed: %s", err.message);
        else
            spec_pass(s);
        if (trap) qv_trap_delete(trap);
    }
    /* A failed module still becomes current (and named), so that later
     * commands on it fail instead of silently using an older module. */
    s->current = inst;
    if (name) spec_session_name(s, name, inst);
}

static void run_register(spec_session *s, const spec_command *cmd)
{
    const char *as = spec_json_string(cmd->json, "as");
    qv_instance *inst;
    char why[128];
    if (!as) {
        spec_fail(s, "the command has no \"as\" name");
    } else if (!spec_session_find(s, spec_json_string(cmd->json, "name"), &inst, why, sizeof why)) {
        spec_fail(s, "cannot register as \"%s\": %s", as, why);
    } else {
        qv_linker_define_instance(s->linker, as, inst);
        spec_pass(s);
    }
}

static bool parse_expected(spec_session *s, json_t *jexpected, spec_expected *out)
{
    for (size_t i = 0; i < json_array_size(jexpected); i++) {
        json_t *j = json_array_get(jexpected, i);
        char why[128];
        if (spec_parse_expected(spec_json_string(j, "type"), spec_json_string(j, "value"), &out[i], why,
                                sizeof why) != SPEC_PARSE_OK) {
            spec_fail(s, "expected result %zu: %s", i + 1, why);
            return false;
        }
    }
    return true;
}

static void check_results(spec_session *s, const spec_expected *want, size_t nwant, const spec_action_result *r)
{
    if (r->count != nwant) {
        spec_fail(s, "expected %zu results, got %zu", nwant, r->count);
        return;
    }
    for (size_t i = 0; i < nwant; i++) {
        if (!spec_expected_matches(&want[i], &r->values[i])) {
            char expected[VALUE_TEXT], got[VALUE_TEXT], which[64] = "";
            spec_format_expected(&want[i], expected, sizeof expected);
            spec_format_value(&r->values[i], got, sizeof got);
            if (nwant > 1) snprintf(which, sizeof which, " (result %zu of %zu)", i + 1, nwant);
            spec_fail(s, "expected %s, got %s%s", expected, got, which);
            return;
        }
    }
    spec_pass(s);
}

/* assert_return, and a bare action (which must not trap). */
static void run_assert_return(spec_session *s, const spec_command *cmd, bool check_values)
{
    if (action_uses_v128(cmd)) {
        spec_skip(s, SPEC_SKIP_SIMD);
        return;
    }
    json_t *jexpected = json_object_get(cmd->json, "expected");
    size_t nwant = json_array_size(jexpected);
    spec_expected *want = calloc(nwant + 1, sizeof *want);
    if (!want) {
        spec_fail(s, "out of memory");
        return;
    }
    if (check_values && !parse_expected(s, jexpected, want)) {
        free(want);
        return;
    }
    spec_action_result r = spec_perform_action(s, json_object_get(cmd->json, "action"));
    if (r.outcome == SPEC_ACTION_TRAPPED)
        spec_fail(s, "expected a return, got trap: %s", qv_trap_message(r.trap));
    else if (r.outcome == SPEC_ACTION_RETURNED && check_values)
        check_results(s, want, nwant, &r);
    else if (r.outcome == SPEC_ACTION_RETURNED)
        spec_pass(s);
    spec_action_result_free(&r);
    free(want);
}

/* Instantiate the command's module, which must fail: with a trap
 * (assert_uninstantiable, assert_trap on a module) or a link error
 * (assert_unlinkable). */
static void run_failing_instantiation(spec_session *s, const spec_command *cmd, bool want_trap)
{
    qv_module *m = compile_or_fail(s, cmd, want_trap ? " (it should compile and then trap)"
                                                     : " (it should compile and then fail to link)");
    if (!m) return;
    qv_trap *trap = NULL;
    qv_error err = {0};
    qv_instance *inst = qv_linker_instantiate(s->linker, m, &trap, &err);
    if (inst)
        spec_fail(s, "instantiation should have %s (expected: %s), but it succeeded",
                  want_trap ? "trapped" : "failed to link", text_of(cmd));
    else if (want_trap && !trap)
        spec_fail(s, "expected a trap (%s), got a link error: %s", text_of(cmd), err.message);
    else if (!want_trap && trap)
        spec_fail(s, "expected a link error (%s), got a trap: %s", text_of(cmd), qv_trap_message(trap));
    else
        spec_pass(s);
    if (trap) qv_trap_delete(trap);
}

/* The trap messages of engines differ; a trap passes, and -v shows those
 * whose message does not start with the spec's. */
static void note_trap_message(spec_session *s, const spec_command *cmd, const qv_trap *trap)
{
    const char *want = spec_json_string(cmd->json, "text");
    const char *got = qv_trap_message(trap);
    if (want && strncmp(got, want, strlen(want)) != 0)
        spec_note(s, "trap message \"%s\", the spec says \"%s\"", got, want);
}

static void run_assert_trap(spec_session *s, const spec_command *cmd, bool exhaustion)
{
    if (!exhaustion && json_object_get(cmd->json, "filename")) {
        run_failing_instantiation(s, cmd, true);
        return;
    }
    if (action_uses_v128(cmd)) {
        spec_skip(s, SPEC_SKIP_SIMD);
        return;
    }
    spec_action_result r = spec_perform_action(s, json_object_get(cmd->json, "action"));
    if (r.outcome == SPEC_ACTION_RETURNED) {
        spec_fail(s, "expected trap \"%s\", but the call returned", text_of(cmd));
    } else if (r.outcome == SPEC_ACTION_TRAPPED) {
        if (exhaustion && qv_trap_kind_of(r.trap) != QV_TRAP_STACK_EXHAUSTED) {
            spec_fail(s, "expected call stack exhaustion, got trap: %s", qv_trap_message(r.trap));
        } else {
            note_trap_message(s, cmd, r.trap);
            spec_pass(s);
        }
    }
    spec_action_result_free(&r);
}

/* assert_invalid and assert_malformed: the engine must reject the module.
 * Its message is not compared with the spec's. */
static void run_assert_rejected(spec_session *s, const spec_command *cmd)
{
    const char *module_type = spec_json_string(cmd->json, "module_type");
    if (module_type && strcmp(module_type, "text") == 0) {
        spec_skip(s, SPEC_SKIP_TEXT_MODULE);
        return;
    }
    const char *filename = spec_json_string(cmd->json, "filename");
    qv_error err;
    bool unreadable;
    qv_module *m = spec_session_compile(s, filename, &err, &unreadable);
    if (m) {
        spec_fail(s, "module %s should have been rejected (expected: %s)", filename, text_of(cmd));
    } else if (unreadable) {
        spec_fail(s, "%s", err.message); /* not a rejection by the engine */
    } else {
        spec_pass(s);
    }
}

void spec_run_command(spec_session *s, const spec_command *cmd)
{
    s->command = *cmd;
    const char *type = cmd->type;
    if (!type)
        spec_fail(s, "the command has no \"type\"");
    else if (strcmp(type, "module") == 0)
        run_module(s, cmd);
    else if (strcmp(type, "register") == 0)
        run_register(s, cmd);
    else if (strcmp(type, "action") == 0)
        run_assert_return(s, cmd, false);
    else if (strcmp(type, "assert_return") == 0)
        run_assert_return(s, cmd, true);
    else if (strcmp(type, "assert_trap") == 0)
        run_assert_trap(s, cmd, false);
    else if (strcmp(type, "assert_exhaustion") == 0)
        run_assert_trap(s, cmd, true);
    else if (strcmp(type, "assert_invalid") == 0 || strcmp(type, "assert_malformed") == 0)
        run_assert_rejected(s, cmd);
    else if (strcmp(type, "assert_unlinkable") == 0)
        run_failing_instantiation(s, cmd, false);
    else if (strcmp(type, "assert_uninstantiable") == 0)
        run_failing_instantiation(s, cmd, true);
    else
        spec_fail(s, "unknown command type");
}
