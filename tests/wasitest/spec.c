/*
 * spec.c — a test's JSON specification, in either form specification.md
 * describes, turned into the run/read/wait operations this runner executes.
 *
 * The legacy form becomes operations as the suite's own runner converts
 * it: run, a read of stdout and of stderr for each of those keys that is
 * present and not null, then wait. An absent key is not checked (the
 * Python runner adds no read for it, and a read of the default "" would
 * check nothing anyway).
 *
 * The operation form is validated completely, with the specification's
 * rules (those of the Python runner's validator), before deciding whether
 * the test can run here: a broken specification fails even when the test
 * would have been skipped. Proposals, worlds, servers and operations that
 * need more than a preview 1 command run (connect, send, recv, and the
 * newer write, request, kill) make the test a skip, with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasitest.h"

/* A stream a running test has, in the validator's sense. */
typedef enum stream_kind { READABLE_PIPE, WRITABLE_PIPE, SOCKET } stream_kind;

typedef struct parser {
    test_spec *s;
    char *err;
    size_t errlen;
    char skip[256];      /* the first reason to skip, or "" */
    /* Validator state: is a test running, and its streams (the names
     * point into the JSON document, which outlives the parser). */
    bool running;
    struct { const char *name; stream_kind kind; } streams[64];
    size_t nstreams;
} parser;

static bool fail(parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return false;
}

static void skip_because(parser *p, const char *fmt, ...)
{
    if (p->skip[0]) return; /* the first reason is the one reported */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->skip, sizeof p->skip, fmt, ap);
    va_end(ap);
}

static bool oom(parser *p)
{
    return fail(p, "out of memory");
}

static bool push_op(parser *p, op o)
{
    op *grown = realloc(p->s->ops, (p->s->nops + 1) * sizeof *grown);
    if (!grown) return oom(p);
    p->s->ops = grown;
    p->s->ops[p->s->nops++] = o;
    return true;
}

static void run_cfg_free(run_cfg *rc)
{
    for (size_t i = 0; i < rc->nargs; i++) free(rc->args[i]);
    for (size_t i = 0; i < rc->nenv; i++) free(rc->env[i]);
    free(rc->args);
    free(rc->env);
    free(rc->root);
    memset(rc, 0, sizeof *rc);
}

/* args, env and root of a legacy specification or a run operation. What
 * reaches qyv's command line cannot hold a NUL byte, and an environment
 * name cannot hold '=' (it would be split at the wrong place). */
static bool run_settings(parser *p, json_t *obj, const char *where, run_cfg *rc)
{
    json_t *args = json_object_get(obj, "args"), *env = json_object_get(obj, "env");
    json_t *root = json_object_get(obj, "root");
    if (args && !json_is_null(args) && !json_is_array(args)) return fail(p, "%s'args' must be a list", where);
    if (env && !json_is_null(env) && !json_is_object(env)) return fail(p, "%s'env' must be an object", where);
    if (root && !json_is_null(root) && !json_is_string(root))
        return fail(p, "%s'root' must be a string or null", where);
    size_t i;
    json_t *v;
    rc->args = calloc(json_array_size(args) + 1, sizeof *rc->args);
    rc->env = calloc(json_object_size(env) + 1, sizeof *rc->env);
    if (!rc->args || !rc->env) return oom(p);
    json_array_foreach(args, i, v) {
        if (!json_is_string(v)) return fail(p, "%sargument %zu is not a string", where, i + 1);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return fail(p, "%sargument %zu holds a NUL byte", where, i + 1);
        if (!(rc->args[rc->nargs++] = strdup(json_string_value(v)))) return oom(p);
    }
    const char *key;
    json_object_foreach(env, key, v) { /* jansson keeps the document's order */
        if (!json_is_string(v)) return fail(p, "%senvironment variable '%s' is not a string", where, key);
        if (!*key || strchr(key, '=')) return fail(p, "%senvironment variable name '%s' is empty or has '='", where, key);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return fail(p, "%senvironment variable '%s' holds a NUL byte", where, key);
        char *kv = malloc(strlen(key) + json_string_length(v) + 2);
        if (!kv) return oom(p);
        sprintf(kv, "%s=%s", key, json_string_value(v));
        rc->env[rc->nenv++] = kv;
    }
    if (json_is_string(root) && !(rc->root = strdup(json_string_value(root)))) return oom(p);
    return true;
}

static bool add_run(parser *p, json_t *obj, const char *where)
{
    op o = {.kind = OP_RUN};
    if (!run_settings(p, obj, where, &o.run) || !push_op(p, o)) {
        run_cfg_free(&o.run);
        return false;
    }
    p->s->nruns++;
    return true;
}

/* The payload may hold NUL bytes (JSON_ALLOW_NUL): keep its length. */
static bool add_read(parser *p, int stream, json_t *payload)
{
    op o = {.kind = OP_READ, .stream = stream};
    o.payload_len = payload ? json_string_length(payload) : 0;
    if (!(o.payload = malloc(o.payload_len + 1))) return oom(p);
    memcpy(o.payload, payload ? json_string_value(payload) : "", o.payload_len + 1);
    if (!push_op(p, o)) {
        free(o.payload);
        return false;
    }
    return true;
}

static bool exit_code_of(parser *p, json_t *obj, const char *where, int *code)
{
    json_t *v = json_object_get(obj, "exit_code");
    if (!v) return *code = 0, true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
        return fail(p, "%s'exit_code' must be an integer from 0 to 255", where);
    *code = (int)json_integer_value(v);
    return true;
}

static bool legacy(parser *p, json_t *obj)
{
    int code = 0;
    if (!add_run(p, obj, "")) return false;
    static const char *const names[] = {NULL, "stdout", "stderr"};
    for (int stream = 1; stream <= 2; stream++) {
        json_t *v = json_object_get(obj, names[stream]);
        if (!v || json_is_null(v)) continue; /* not checked (see the top) */
        if (!json_is_string(v)) return fail(p, "'%s' must be a string", names[stream]);
        if (!add_read(p, stream, v)) return false;
    }
    return exit_code_of(p, obj, "", &code) && push_op(p, (op){.kind = OP_WAIT, .exit_code = code});
}

/* ---- the validator's rules -------------------------------------------- */

static int find_stream(const parser *p, const char *name)
{
    for (size_t i = 0; i < p->nstreams; i++)
        if (!strcmp(p->streams[i].name, name)) return (int)i;
    return -1;
}

static bool add_stream(parser *p, const char *where, const char *name, stream_kind kind)
{
    if (find_stream(p, name) >= 0) return fail(p, "%sthe id '%s' is already in use", where, name);
    if (p->nstreams == sizeof p->streams / sizeof p->streams[0]) return fail(p, "%stoo many connections", where);
    p->streams[p->nstreams].name = name;
    p->streams[p->nstreams++].kind = kind;
    return true;
}

static bool need_stream(parser *p, const char *where, const char *name, stream_kind kind)
{
    static const char *const what[] = {"an output stream of the test (stdout or stderr)",
                                       "an input stream of the test (stdin)",
                                       "a connection made by an earlier 'connect'"};
    int i = find_stream(p, name);
    if (i < 0 || p->streams[i].kind != kind) return fail(p, "%s'%s' is not %s", where, name, what[kind]);
    return true;
}

static bool need_running(parser *p, const char *where)
{
    return p->running || fail(p, "%sno test is running (it must come after a 'run', before its 'wait')", where);
}

/* An optional string field; false (with the error) if present but not a string. */
static bool string_field(parser *p, json_t *obj, const char *key, const char *where, const char *dflt,
                         json_t **out, const char **value)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_string(v)) return fail(p, "%s'%s' must be a string", where, key);
    *out = v;
    *value = v ? json_string_value(v) : dflt;
    return true;
}

static bool operation(parser *p, json_t *o, size_t index)
{
    char where[96];
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || !type) return fail(p, "operation %zu: not an object with a string 'type'", index);
    snprintf(where, sizeof where, "operation %zu ('%.30s'): ", index, type);
    json_t *v = NULL, *payload = NULL;
    const char *id = "", *text = "";

    if (!strcmp(type, "run")) {
        if (p->running) return fail(p, "%sthe previous 'run' has no 'wait' yet", where);
        p->running = true;
        return add_stream(p, where, "stdin", WRITABLE_PIPE) && add_stream(p, where, "stdout", READABLE_PIPE) &&
               add_stream(p, where, "stderr", READABLE_PIPE) && add_run(p, o, where);
    }
    if (!strcmp(type, "wait")) {
        int code = 0;
        if (!need_running(p, where) || !exit_code_of(p, o, where, &code)) return false;
        p->running = false;
        p->nstreams = 0; /* the test's streams and connections end with it */
        return push_op(p, (op){.kind = OP_WAIT, .exit_code = code});
    }
    if (!strcmp(type, "read")) {
        if (!need_running(p, where) || !string_field(p, o, "id", where, "stdout", &v, &id) ||
            !string_field(p, o, "payload", where, "", &payload, &text) ||
            !need_stream(p, where, id, READABLE_PIPE))
            return false;
        return add_read(p, strcmp(id, "stdout") ? 2 : 1, payload);
    }
    if (!strcmp(type, "write")) { /* not in specification.md; the Python runner's */
        if (!need_running(p, where) || !string_field(p, o, "id", where, "write", &v, &id) ||
            !string_field(p, o, "payload", where, "", &payload, &text) ||
            !need_stream(p, where, id, WRITABLE_PIPE))
            return false;
        skip_because(p, "uses the 'write' operation (input to the running test); this runner gives tests "
                        "/dev/null as stdin");
        return true;
    }
    if (!strcmp(type, "connect")) {
        const char *proto = "";
        if (!need_running(p, where) || !string_field(p, o, "id", where, "server", &v, &id) ||
            !string_field(p, o, "protocol_type", where, "tcp", &v, &proto))
            return false;
        if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "http"))
            return fail(p, "%sunknown protocol_type '%s'", where, proto);
        if (strcmp(proto, "tcp")) return fail(p, "%sonly 'tcp' connections are supported, not '%s'", where, proto);
        skip_because(p, "uses the 'connect' operation (a TCP connection to the test as a server; WASI preview 1 "
                        "has no socket creation)");
        return add_stream(p, where, id, SOCKET);
    }
    if (!strcmp(type, "send") || !strcmp(type, "recv")) {
        if (!json_object_get(o, "id")) return fail(p, "%s'id' is required", where);
        if (!need_running(p, where) || !string_field(p, o, "id", where, "", &v, &id) ||
            !string_field(p, o, "payload", where, "", &payload, &text) || !need_stream(p, where, id, SOCKET))
            return false;
        skip_because(p, "uses the '%s' operation (data over a connection to the test; WASI preview 1 has no "
                        "socket creation)", type);
        return true;
    }
    if (!strcmp(type, "request") || !strcmp(type, "kill")) { /* the Python runner's newer ones */
        if (!need_running(p, where)) return false;
        skip_because(p, "uses the '%s' operation (%s), which this runner does not drive", type,
                     type[0] == 'r' ? "HTTP requests to the test as a server" : "signals to the running test");
        return true;
    }
    return fail(p, "operation %zu: unknown type '%s'", index, type);
}

static bool proposals(parser *p, json_t *list)
{
    size_t i;
    json_t *v;
    if (!list || json_is_null(list)) return true;
    if (!json_is_array(list)) return fail(p, "'proposals' must be a list");
    json_array_foreach(list, i, v) {
        const char *name = json_string_value(v);
        if (!name) return fail(p, "proposal %zu is not a string", i + 1);
        if (!strcmp(name, "sockets")) skip_because(p, "needs proposal 'sockets' (WASI preview 1 has no socket creation)");
        else if (!strcmp(name, "http")) skip_because(p, "needs proposal 'http' (WASI preview 1 has no HTTP interface)");
        else return fail(p, "unknown proposal '%s' (the specification has 'http' and 'sockets')", name);
    }
    return true;
}

static bool operations_form(parser *p, json_t *obj)
{
    json_t *world = json_object_get(obj, "world"), *servers = json_object_get(obj, "servers");
    if (!proposals(p, json_object_get(obj, "proposals"))) return false;
    if (world && !json_is_null(world)) {
        const char *w = json_string_value(world);
        if (!w || (strcmp(w, "wasi:cli/command") && strcmp(w, "wasi:http/service")))
            return fail(p, "'world' must be \"wasi:cli/command\" or \"wasi:http/service\"");
        if (strcmp(w, "wasi:cli/command"))
            skip_because(p, "targets the world '%s' (a component-model world; qyv runs preview 1 commands)", w);
    }
    if (servers && !json_is_null(servers)) {
        if (!json_is_array(servers)) return fail(p, "'servers' must be a list");
        if (json_array_size(servers))
            skip_because(p, "needs HTTP servers for outbound requests (WASI preview 1 has no HTTP interface)");
    }

    /* No operations (absent, null or empty): the specification's default. */
    json_t *ops = json_object_get(obj, "operations"), *v;
    if (ops && !json_is_null(ops) && !json_is_array(ops)) return fail(p, "'operations' must be a list");
    if (!json_array_size(ops)) {
        json_t *dflt = json_pack("[{s:s},{s:s}]", "type", "run", "type", "wait");
        if (!dflt) return oom(p);
        bool ok = operation(p, json_array_get(dflt, 0), 1) && operation(p, json_array_get(dflt, 1), 2);
        json_decref(dflt);
        return ok;
    }
    size_t i;
    json_array_foreach(ops, i, v)
        if (!operation(p, v, i + 1)) return false;
    if (p->running) return fail(p, "the last 'run' has no 'wait'");
    return true;
}

/* The keys of each form; a specification may not mix them. */
static const char *const legacy_keys[] = {"args", "root", "env", "exit_code", "stdout", "stderr"};
static const char *const operation_keys[] = {"operations", "proposals", "world", "servers"};

static bool has_any(json_t *obj, const char *const *keys, size_t n, bool non_null)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (v && (!non_null || !json_is_null(v))) return true;
    }
    return false;
}

static bool parse(parser *p, json_t *obj)
{
    if (!json_is_object(obj)) return fail(p, "not a JSON object");
    bool old = has_any(obj, legacy_keys, 6, false), new = has_any(obj, operation_keys, 4, false);
    if (old && new) return fail(p, "mixes the legacy keys (args, env, root, exit_code, stdout, stderr) "
                                   "with the operation form's (operations, proposals, ...)");
    /* As the Python runner decides: the operation form if one of its keys has a value. */
    return has_any(obj, operation_keys, 4, true) ? operations_form(p, obj) : legacy(p, obj);
}

bool spec_load(const char *dir, const char *name, test_spec *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    parser p = {.s = s, .err = err, .errlen = errlen};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    json_t *obj;
    /* O_CLOEXEC: other threads are starting children meanwhile. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) return fail(&p, "cannot read %s: %s", path, strerror(errno));
        obj = json_object(); /* no specification: the legacy defaults */
        if (!obj) return oom(&p);
    } else {
        json_error_t je;
        obj = json_loadfd(fd, JSON_ALLOW_NUL, &je);
        close(fd);
        if (!obj) return fail(&p, "%s:%d: %s", path, je.line, je.text);
    }
    bool ok = parse(&p, obj);
    json_decref(obj);
    if (ok && p.skip[0] && !(s->skip = strdup(p.skip))) ok = oom(&p);
    if (!ok) {
        /* Prefix the message with the file it is about. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", err);
        if (!strstr(msg, path)) snprintf(err, errlen, "%s: %s", path, msg);
        spec_free(s);
    }
    return ok;
}

void spec_free(test_spec *s)
{
    for (size_t i = 0; i < s->nops; i++) {
        if (s->ops[i].kind == OP_RUN) run_cfg_free(&s->ops[i].run);
        free(s->ops[i].payload);
    }
    free(s->ops);
    free(s->skip);
    memset(s, 0, sizeof *s);
}
