/*
 * spec.c — a test's JSON specification, in either form the specification
 * describes. The legacy form becomes operations as the suite's own runner
 * converts it: run, a read of stdout and of stderr when those keys are
 * present (an absent key is not checked), wait for the exit code.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitest.h"

static bool push_op(test_spec *s, op o)
{
    op *grown = realloc(s->ops, (s->nops + 1) * sizeof *grown);
    if (!grown) return false;
    grown[s->nops++] = o;
    s->ops = grown;
    return true;
}

static bool read_op(test_spec *s, const char *stream, json_t *payload, char *err, size_t errlen)
{
    if (payload && !json_is_string(payload)) {
        snprintf(err, errlen, "the expected %s must be a string", stream);
        return false;
    }
    op o = {.kind = OP_READ, .stream = strcmp(stream, "stderr") ? 1 : 2};
    const char *text = payload ? json_string_value(payload) : "";
    o.payload_len = payload ? json_string_length(payload) : 0;
    o.payload = malloc(o.payload_len + 1);
    if (!o.payload) return false;
    memcpy(o.payload, text, o.payload_len + 1);
    if (!push_op(s, o)) {
        free(o.payload);
        return false;
    }
    return true;
}

/* args, env and root, from a legacy spec or a run operation. */
static bool run_settings(test_spec *s, json_t *obj, char *err, size_t errlen)
{
    json_t *args = json_object_get(obj, "args"), *env = json_object_get(obj, "env");
    json_t *root = json_object_get(obj, "root");
    if (args && !json_is_array(args)) return snprintf(err, errlen, "'args' must be a list"), false;
    if (env && !json_is_object(env)) return snprintf(err, errlen, "'env' must be an object"), false;
    if (root && !json_is_null(root) && !json_is_string(root))
        return snprintf(err, errlen, "'root' must be a string or null"), false;
    size_t i;
    json_t *v;
    s->nargs = args ? json_array_size(args) : 0;
    s->args = calloc(s->nargs + 1, sizeof *s->args);
    if (!s->args) return false;
    json_array_foreach(args, i, v) {
        if (!json_is_string(v)) return snprintf(err, errlen, "argument %zu is not a string", i), false;
        if (!(s->args[i] = strdup(json_string_value(v)))) return false;
    }
    s->env = calloc(json_object_size(env) + 1, sizeof *s->env);
    if (!s->env) return false;
    const char *key;
    json_object_foreach(env, key, v) {
        if (!json_is_string(v)) return snprintf(err, errlen, "env %s is not a string", key), false;
        char *kv = malloc(strlen(key) + json_string_length(v) + 2);
        if (!kv) return false;
        sprintf(kv, "%s=%s", key, json_string_value(v));
        s->env[s->nenv++] = kv;
    }
    if (root && json_is_string(root) && !(s->root = strdup(json_string_value(root)))) return false;
    return true;
}

static bool legacy(test_spec *s, json_t *obj, char *err, size_t errlen)
{
    if (!run_settings(s, obj, err, errlen) || !push_op(s, (op){.kind = OP_RUN})) return false;
    json_t *out = json_object_get(obj, "stdout"), *errs = json_object_get(obj, "stderr");
    if (out && !json_is_null(out) && !read_op(s, "stdout", out, err, errlen)) return false;
    if (errs && !json_is_null(errs) && !read_op(s, "stderr", errs, err, errlen)) return false;
    json_t *code = json_object_get(obj, "exit_code");
    if (code && !json_is_integer(code)) return snprintf(err, errlen, "'exit_code' must be an integer"), false;
    return push_op(s, (op){.kind = OP_WAIT, .exit_code = code ? (int)json_integer_value(code) : 0});
}

static bool operations(test_spec *s, json_t *obj, char *err, size_t errlen)
{
    json_t *proposals = json_object_get(obj, "proposals"), *ops = json_object_get(obj, "operations");
    size_t i;
    json_t *v;
    json_array_foreach(proposals, i, v) {
        char why[160];
        snprintf(why, sizeof why, "needs the '%s' proposal, which WASI preview 1 does not have",
                 json_is_string(v) ? json_string_value(v) : "?");
        return (s->skip = strdup(why)) != NULL;
    }
    if (!ops) ops = json_pack("[{s:s},{s:s}]", "type", "run", "type", "wait");
    else json_incref(ops);
    if (!json_is_array(ops)) {
        json_decref(ops);
        return snprintf(err, errlen, "'operations' must be a list"), false;
    }
    bool ok = true, running = false, ran = false;
    json_array_foreach(ops, i, v) {
        const char *type = json_string_value(json_object_get(v, "type"));
        if (!type) type = "";
        if (!strcmp(type, "run")) {
            if (ran) ok = false, snprintf(err, errlen, "more than one 'run' operation");
            else ok = run_settings(s, v, err, errlen) && push_op(s, (op){.kind = OP_RUN});
            running = ran = true;
        } else if (!strcmp(type, "wait")) {
            json_t *code = json_object_get(v, "exit_code");
            if (!running) ok = false, snprintf(err, errlen, "'wait' without a 'run' before it");
            else if (code && !json_is_integer(code)) ok = false, snprintf(err, errlen, "'exit_code' must be an integer");
            else ok = push_op(s, (op){.kind = OP_WAIT, .exit_code = code ? (int)json_integer_value(code) : 0});
            running = false;
        } else if (!strcmp(type, "read")) {
            const char *id = json_string_value(json_object_get(v, "id"));
            if (!ran) ok = false, snprintf(err, errlen, "'read' before 'run'");
            else if (id && strcmp(id, "stdout") && strcmp(id, "stderr"))
                ok = false, snprintf(err, errlen, "'read' of unknown stream '%s'", id);
            else ok = read_op(s, id ? id : "stdout", json_object_get(v, "payload"), err, errlen);
        } else if (!strcmp(type, "connect") || !strcmp(type, "send") || !strcmp(type, "recv") ||
                   !strcmp(type, "write") || !strcmp(type, "request") || !strcmp(type, "kill")) {
            char why[160];
            snprintf(why, sizeof why, "uses the '%s' operation (talking to a running test), which this runner "
                     "does not drive", type);
            ok = (s->skip = strdup(why)) != NULL;
            break;
        } else {
            ok = false;
            snprintf(err, errlen, "unknown operation type '%s'", type);
        }
        if (!ok) break;
    }
    if (ok && running && !s->skip) ok = false, snprintf(err, errlen, "'run' without a matching 'wait'");
    json_decref(ops);
    return ok;
}

bool spec_load(const char *dir, const char *name, test_spec *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    snprintf(err, errlen, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    json_t *obj;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), false;
        obj = json_object(); /* no specification: the defaults */
    } else {
        json_error_t je;
        obj = json_loadf(f, 0, &je);
        fclose(f);
        if (!obj) return snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text), false;
    }
    bool ok;
    if (!json_is_object(obj)) ok = false, snprintf(err, errlen, "%s is not a JSON object", path);
    else if (json_object_get(obj, "operations") || json_object_get(obj, "proposals")) ok = operations(s, obj, err, errlen);
    else ok = legacy(s, obj, err, errlen);
    json_decref(obj);
    if (!ok) spec_free(s);
    return ok;
}

void spec_free(test_spec *s)
{
    for (size_t i = 0; i < s->nargs; i++) free(s->args[i]);
    for (size_t i = 0; i < s->nenv; i++) free(s->env[i]);
    for (size_t i = 0; i < s->nops; i++) free(s->ops[i].payload);
    free(s->args);
    free(s->env);
    free(s->ops);
    free(s->root);
    free(s->skip);
    memset(s, 0, sizeof *s);
}
