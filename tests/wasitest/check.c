/*
 * check.c — a finished run against an operation's expectations.
 *
 * A `read` compares the next bytes of its stream with its payload, as the
 * Python runner's does (it reads len(payload) characters and compares):
 * reads of one stream follow each other. On top of that, by default, a
 * stream that had reads must hold nothing after them when the test ends,
 * so a legacy {"stdout": "hello"} means stdout is exactly "hello" (as the
 * suite's legacy runner compared it); --prefix-reads drops that check.
 * Streams without reads are not checked at all.
 *
 * Messages quote at most 200 bytes of each side, escaped, around the
 * first difference.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitest.h"

#define QUOTE_MAX 200

/* `s[from..len)`, escaped and cut to QUOTE_MAX bytes, with "..." where
 * something was left out. */
static void quote(char *dst, size_t cap, const char *s, size_t len, size_t from)
{
    size_t k = 0;
    if (from > len) from = len;
    if (from > 0) k += (size_t)snprintf(dst, cap, "...");
    size_t end = len - from > QUOTE_MAX ? from + QUOTE_MAX : len;
    for (size_t i = from; i < end && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') k += (size_t)snprintf(dst + k, cap - k, "\\n");
        else if (c == '\t') k += (size_t)snprintf(dst + k, cap - k, "\\t");
        else if (c == '\r') k += (size_t)snprintf(dst + k, cap - k, "\\r");
        else if (c == '"' || c == '\\') k += (size_t)snprintf(dst + k, cap - k, "\\%c", c);
        else if (c < 32 || c > 126) k += (size_t)snprintf(dst + k, cap - k, "\\x%02x", c);
        else dst[k++] = (char)c;
    }
    if (end < len && k + 4 < cap) k += (size_t)snprintf(dst + k, cap - k, "...");
    dst[k < cap ? k : cap - 1] = 0;
}

static const char *bytes(size_t n)
{
    return n == 1 ? "byte" : "bytes";
}

static const char *stream_name(int stream)
{
    return stream == 1 ? "stdout" : "stderr";
}

char *check_read(const op *o, const run_result *res, read_pos *rp)
{
    const char *data = o->stream == 1 ? res->out : res->err;
    size_t len = o->stream == 1 ? res->out_len : res->err_len;
    size_t at = rp->pos[o->stream], avail = len - at;
    rp->checked[o->stream] = true;
    size_t same = 0;
    while (same < avail && same < o->payload_len && data[at + same] == o->payload[same]) same++;
    if (same == o->payload_len) {
        rp->pos[o->stream] += same;
        return NULL;
    }
    /* Show both sides from a little before the first difference. */
    size_t from = same > QUOTE_MAX - 40 ? same - 40 : 0;
    char want[4 * QUOTE_MAX + 16], got[4 * QUOTE_MAX + 16], where[64] = "", msg[sizeof want + sizeof got + 256];
    quote(want, sizeof want, o->payload, o->payload_len, from);
    quote(got, sizeof got, data + at, avail, from);
    if (at) snprintf(where, sizeof where, " (after the %zu %s already read)", at, bytes(at));
    snprintf(msg, sizeof msg, "%s%s: expected \"%s\" (%zu %s), got \"%s\" (%zu %s); %s at byte %zu",
             stream_name(o->stream), where, want, o->payload_len, bytes(o->payload_len), got, avail, bytes(avail),
             same == avail ? "the output ends" : "first difference", same);
    return strdup(msg);
}

/* "; stderr: "..."; stdout: "..."" for whichever is not empty. */
static void output_tail(char *dst, size_t cap, const run_result *res)
{
    char q[4 * QUOTE_MAX + 16];
    size_t k = 0;
    dst[0] = 0;
    if (res->err_len) {
        quote(q, sizeof q, res->err, res->err_len, 0);
        k += (size_t)snprintf(dst + k, cap - k, "; stderr: \"%s\"", q);
    }
    if (res->out_len && k < cap) {
        quote(q, sizeof q, res->out, res->out_len, 0);
        snprintf(dst + k, cap - k, "; stdout: \"%s\"", q);
    }
}

char *check_wait(const op *o, const run_result *res, const read_pos *rp, bool prefix_reads)
{
    char msg[2 * (4 * QUOTE_MAX + 16) + 256], tail[2 * (4 * QUOTE_MAX + 16) + 64];
    if (res->timed_out) return strdup("timed out");
    if (res->signal) {
        const char *name = sigabbrev_np(res->signal);
        output_tail(tail, sizeof tail, res);
        snprintf(msg, sizeof msg, "killed by signal %d (SIG%s), expected exit status %d%s", res->signal,
                 name ? name : "?", o->exit_code, tail);
        return strdup(msg);
    }
    if (res->exit_status != o->exit_code) {
        output_tail(tail, sizeof tail, res);
        snprintf(msg, sizeof msg, "exit status %d, expected %d%s", res->exit_status, o->exit_code, tail);
        return strdup(msg);
    }
    for (int s = 1; s <= 2 && !prefix_reads; s++) {
        size_t len = s == 1 ? res->out_len : res->err_len;
        if (!rp->checked[s] || rp->pos[s] == len) continue;
        quote(tail, sizeof tail, s == 1 ? res->out : res->err, len, rp->pos[s]);
        snprintf(msg, sizeof msg, "%s: %zu %s more than the %zu expected: \"%s\"", stream_name(s),
                 len - rp->pos[s], bytes(len - rp->pos[s]), rp->pos[s], tail);
        return strdup(msg);
    }
    return NULL;
}
