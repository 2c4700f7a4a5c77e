/*
 * cgi.c — parsing a CGI response (RFC 3875 section 6, as WAGI applies it):
 *   - header lines end with "\n" or "\r\n"; a blank line ends them;
 *   - `Status: CODE [REASON]` sets the status (100-599);
 *   - `Location: URL` without a Status is a 302 redirect;
 *   - at least one of Content-Type, Location or Status must be present;
 *   - hop-by-hop and framing headers (Connection, Transfer-Encoding,
 *     Content-Length, Keep-Alive...) are the server's business: dropped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/cgi.h"

/* The most header lines an app may send: plenty, and a bound. */
#define MAX_HEADERS 100

static bool token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static bool is_framing(const char *name)
{
    static const char *const names[] = {"connection", "transfer-encoding", "content-length", "keep-alive",
                                        "upgrade", "te", "trailer", "proxy-connection"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(name, names[i])) return true;
    return false;
}

static bool add_header(cgi_response *res, const char *name, size_t nlen, const char *value, size_t vlen)
{
    cgi_header *grown = realloc(res->headers, (res->nheaders + 1) * sizeof *grown);
    if (!grown) return false;
    res->headers = grown;
    cgi_header *h = &res->headers[res->nheaders];
    h->name = strndup(name, nlen);
    h->value = strndup(value, vlen);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return false;
    }
    res->nheaders++;
    return true;
}

bool cgi_parse(const char *out, size_t len, cgi_response *res, char *why, size_t whylen)
{
    memset(res, 0, sizeof *res);
    res->status = 200;
    bool has_type = false, has_location = false, has_status = false;
    size_t pos = 0;
    for (size_t nlines = 0;; nlines++) {
        const char *nl = memchr(out + pos, '\n', len - pos);
        if (!nl) {
            snprintf(why, whylen, len ? "the output has no blank line after its headers"
                                      : "the app wrote nothing on stdout");
            goto bad;
        }
        const char *line = out + pos;
        size_t n = (size_t)(nl - line);
        if (n && line[n - 1] == '\r') n--;
        pos = (size_t)(nl - out) + 1;
        if (n == 0) break; /* the blank line: the body follows */
        if (nlines >= MAX_HEADERS) {
            snprintf(why, whylen, "more than %d header lines", MAX_HEADERS);
            goto bad;
        }
        const char *colon = memchr(line, ':', n);
        size_t nlen = colon ? (size_t)(colon - line) : 0;
        for (size_t i = 0; i < nlen; i++)
            if (!token_char((unsigned char)line[i])) nlen = 0;
        if (!nlen) {
            snprintf(why, whylen, "header line %zu is not 'Name: value': \"%.*s\"", nlines + 1,
                     (int)(n > 60 ? 60 : n), line);
            goto bad;
        }
        const char *value = colon + 1;
        size_t vlen = n - nlen - 1;
        while (vlen && (*value == ' ' || *value == '\t')) value++, vlen--;
        while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) vlen--;
        for (size_t i = 0; i < vlen; i++)
            if ((unsigned char)value[i] < 32 && value[i] != '\t') {
                snprintf(why, whylen, "header %.*s has a control character in its value", (int)nlen, line);
                goto bad;
            }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(nlen < 127 ? nlen : 127), line);
        if (!strcasecmp(name, "status")) {
            char *end;
            long code = strtol(value, &end, 10);
            if (end == value || code < 100 || code > 599 || (end < value + vlen && *end != ' ')) {
                snprintf(why, whylen, "Status must be a code from 100 to 599, got \"%.*s\"",
                         (int)(vlen > 40 ? 40 : vlen), value);
                goto bad;
            }
            res->status = (int)code;
            has_status = true;
            continue;
        }
        if (is_framing(name)) continue;
        if (!strcasecmp(name, "content-type")) has_type = true;
        if (!strcasecmp(name, "location")) has_location = true;
        if (!add_header(res, line, nlen, value, vlen)) {
            snprintf(why, whylen, "out of memory");
            goto bad;
        }
    }
    if (!has_type && !has_location && !has_status) {
        snprintf(why, whylen, "the headers have none of Content-Type, Location or Status");
        goto bad;
    }
    if (has_location && !has_status) res->status = 302;
    res->body = out + pos;
    res->body_len = len - pos;
    return true;
bad:
    cgi_response_free(res);
    return false;
}

void cgi_response_free(cgi_response *res)
{
    for (size_t i = 0; i < res->nheaders; i++) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    free(res->headers);
    memset(res, 0, sizeof *res);
}
