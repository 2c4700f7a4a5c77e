/*
 * cluster_call.c — the cluster commands' calls to the master
 * (cluster_cli.h): the token read once, each call printed with --debug,
 * and every way a call can fail said in one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cluster_cli.h"

void cluster_say(const cluster_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qyv %s: ", ctx->command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool have_token(cluster_ctx *ctx)
{
    char why[1024];
    if (ctx->token[0] || cluster_token_read(ctx->token_file, ctx->token, sizeof ctx->token, why, sizeof why))
        return true;
    cluster_say(ctx, "%s (run `qyv cluster init`, or `qyv cluster auth --token TOKEN` with the cluster's token)", why);
    return false;
}

/* api_*'s "no answer from ADDR: REASON" said from the user's side. */
static void say_unreachable(const cluster_ctx *ctx, const char *why)
{
    const char *rest = !strncmp(why, "no answer from ", 15) ? why + 15 : why;
    cluster_say(ctx, "no master answered at %s", rest);
}

/* HTTPS checked against the cluster CA, or plain HTTP, as ctx says. */
static void use_transport(const cluster_ctx *ctx)
{
    api_tls tls = {0};
    snprintf(tls.ca_file, sizeof tls.ca_file, "%.511s", ctx->ca_file);
    snprintf(tls.server_role, sizeof tls.server_role, "master");
    api_set_tls(ctx->tls ? &tls : NULL);
}

bool cluster_stream(cluster_ctx *ctx, const char *path, api_piece_fn piece, void *arg, api_reply *out)
{
    char why[1024];
    if (!have_token(ctx)) return false;
    use_transport(ctx);
    if (ctx->debug) fprintf(stderr, "> GET %s://%s%s\n", ctx->tls ? "https" : "http", ctx->master, path);
    if (api_stream(ctx->master, "GET", path, ctx->token, 0, piece, arg, out, why, sizeof why)) return true;
    say_unreachable(ctx, why);
    return false;
}

bool cluster_call(cluster_ctx *ctx, const char *method, const char *path, const char *content_type,
                  const void *body, size_t len, long timeout_ms, api_reply *out)
{
    char why[1024];
    if (!have_token(ctx)) return false;
    use_transport(ctx);
    if (ctx->debug) {
        fprintf(stderr, "> %s %s://%s%s", method, ctx->tls ? "https" : "http", ctx->master, path);
        if (body) fprintf(stderr, " (%zu bytes of %s)", len, content_type ? content_type : "data");
        fputc('\n', stderr);
        if (body && content_type && !strcmp(content_type, "application/json"))
            fprintf(stderr, "> %.*s\n", (int)len, (const char *)body);
    }
    double start = now_ms();
    if (!api_call(ctx->master, method, path, ctx->token, content_type, body, len, timeout_ms, out, why,
                  sizeof why)) {
        say_unreachable(ctx, why);
        return false;
    }
    if (ctx->debug)
        fprintf(stderr, "< %ld in %.1f ms: %.*s%s", out->status, now_ms() - start, (int)(out->len > 2000 ? 2000 : out->len),
                out->body, out->len && out->body[out->len - 1] == '\n' ? "" : "\n");
    return true;
}

bool cluster_call_json(cluster_ctx *ctx, const char *method, const char *path, json_t *body, api_reply *out)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (!text) {
        cluster_say(ctx, "out of memory");
        return false;
    }
    bool ok = cluster_call(ctx, method, path, "application/json", text, strlen(text), 0, out);
    free(text);
    return ok;
}

json_t *cluster_answer(cluster_ctx *ctx, const api_reply *reply, long want)
{
    bool expected = want ? reply->status == want : reply->status >= 200 && reply->status < 300;
    if (!expected) {
        char text[1024];
        api_error(reply, text, sizeof text);
        if (reply->status == 401)
            cluster_say(ctx, "the master refused the token in %s: %s", ctx->token_file, text);
        else
            cluster_say(ctx, "%s", text);
        return NULL;
    }
    json_error_t err;
    json_t *root = json_loadb(reply->body, reply->len, 0, &err);
    if (!root) cluster_say(ctx, "the master's answer is not JSON (%s)", err.text);
    return root;
}

json_t *cluster_get(cluster_ctx *ctx, const char *path)
{
    api_reply reply;
    if (!cluster_call(ctx, "GET", path, NULL, NULL, 0, 0, &reply)) return NULL;
    json_t *root = cluster_answer(ctx, &reply, 200);
    api_reply_free(&reply);
    return root;
}

void cluster_print_json(const json_t *json)
{
    json_dumpf(json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
}

void cluster_query_escape(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)in; *s && o + 4 < size; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("-._~", *s)) {
            out[o++] = (char)*s;
        } else {
            out[o++] = '%';
            out[o++] = hex[*s >> 4];
            out[o++] = hex[*s & 15];
        }
    }
    out[o] = 0;
}
