/*
 * report.c — error messages: "FILE:LINE:COLUMN: message" at a node;
 * warnings, "FILE:LINE:COLUMN: warning: message", kept in the manifest; and
 * the quoting of user text inside messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

/* Longest quoted excerpt of user text, in characters. */
#define QUOTE_CHARS 40

/* "FILE:LINE:COLUMN: " (or "FILE: " without a line), `kind`, then the
 * message, cut to fit. */
static void format_located(char *buf, size_t size, const char *file, size_t line, size_t column,
                           const char *kind, const char *fmt, va_list ap)
{
    int n;
    if (line > 0) n = snprintf(buf, size, "%s:%zu:%zu: %s", file, line, column, kind);
    else n = snprintf(buf, size, "%s: %s", file, kind);
    if (n < 0) n = 0;
    if ((size_t)n < size) vsnprintf(buf + n, size - (size_t)n, fmt, ap);
}

static void set_error_v(qv_manifest_error *err, const char *file, size_t line, size_t column,
                        const char *fmt, va_list ap)
{
    format_located(err->message, sizeof err->message, file, line, column, "", fmt, ap);
    err->line = (unsigned)line;
    err->column = (unsigned)column;
    err->permission_refused = false;
}

void mf_set_error(qv_manifest_error *err, const char *file, size_t line, size_t column,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(err, file, line, column, fmt, ap);
    va_end(ap);
}

bool mf_fail_mark(mf_ctx *ctx, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* libyaml counts from 0; editors and compilers count from 1. */
    set_error_v(ctx->err, ctx->file, mark.line + 1, mark.column + 1, fmt, ap);
    va_end(ap);
    return false;
}

bool mf_fail(mf_ctx *ctx, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(ctx->err, ctx->file, at->start_mark.line + 1, at->start_mark.column + 1, fmt, ap);
    va_end(ap);
    return false;
}

static void set_located(char *buf, size_t size, const char *file, size_t line, size_t column,
                        const char *kind, const char *fmt, ...) MF_PRINTF(7, 8);
static void set_located(char *buf, size_t size, const char *file, size_t line, size_t column,
                        const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_located(buf, size, file, line, column, kind, fmt, ap);
    va_end(ap);
}

void mf_warn(mf_ctx *ctx, const yaml_node_t *at, const char *fmt, ...)
{
    qv_manifest *m = ctx->manifest;
    size_t seen = ++ctx->warnings_seen;
    if (seen > QV_MANIFEST_MAX_WARNINGS) {
        /* The last slot, where the first warning left out is, counts them. */
        qv_manifest_warning *last = &m->warnings[QV_MANIFEST_MAX_WARNINGS - 1];
        set_located(last->message, sizeof last->message, ctx->file, last->line, last->column,
                    "warning: ", "%zu more warnings from here on are not shown (at most %u are kept)",
                    seen - QV_MANIFEST_MAX_WARNINGS + 1, QV_MANIFEST_MAX_WARNINGS);
        return;
    }
    qv_manifest_warning *w = &m->warnings[m->warning_count++];
    w->line = (unsigned)at->start_mark.line + 1;
    w->column = (unsigned)at->start_mark.column + 1;
    va_list ap;
    va_start(ap, fmt);
    format_located(w->message, sizeof w->message, ctx->file, w->line, w->column, "warning: ", fmt, ap);
    va_end(ap);
}

const char *mf_quote(const char *text, size_t len, char *buf, size_t size)
{
    size_t out = 0, chars = 0;
    /* Room for the longest escape (\xNN), "..." and the NUL. */
    for (size_t i = 0; i < len && out + 8 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        bool continuation = (c & 0xC0) == 0x80;   /* inside a UTF-8 character */
        if (!continuation && chars == QUOTE_CHARS) {
            memcpy(buf + out, "...", 3);
            out += 3;
            break;
        }
        if (!continuation) chars++;
        if (c == '\n') {
            buf[out++] = '\\';
            buf[out++] = 'n';
        } else if (c < 0x20 || c == 0x7F) {
            out += (size_t)snprintf(buf + out, size - out, "\\x%02x", c);
        } else {
            buf[out++] = (char)c;
        }
    }
    buf[out] = '\0';
    return buf;
}

bool mf_is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
        if (strcmp(mf_text(node), nulls[i]) == 0) return true;
    return false;
}

const char *mf_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a map";
    case YAML_SCALAR_NODE: return mf_is_null(node) ? "nothing" : "a string";
    case YAML_NO_NODE: break;
    }
    return "nothing";
}
