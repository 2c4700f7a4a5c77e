/*
 * http_target.c — request-target checking and normalisation.
 */
#include "serve/http_target.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Whether decoding the (well-formed) path s, %2F included, yields a dot
 * segment: such a path would reach the app with "/../" in PATH_INFO. */
static bool decodes_to_dot_segment(const char *s)
{
    size_t seglen = 0;
    int first = 0, second = 0;
    for (;;) {
        int c = (unsigned char)*s;
        if (c == '%') {
            c = hex_value((unsigned char)s[1]) * 16 + hex_value((unsigned char)s[2]);
            s += 3;
        } else if (c) {
            s++;
        }
        if (c == '/' || c == 0) {
            if ((seglen == 1 && first == '.') || (seglen == 2 && first == '.' && second == '.')) return true;
            if (c == 0) return false;
            seglen = 0;
            continue;
        }
        if (seglen == 0) first = c;
        else if (seglen == 1) second = c;
        seglen++;
    }
}

const char *http_target_parse(const char *target, size_t len, char *out, const char **path, const char **query)
{
    const char *p = target, *end = target + len;
    if (len == 1 && *p == '*') return "the asterisk-form target is not served";
    if (len > 7 && (!strncasecmp(p, "http://", 7) || (len > 8 && !strncasecmp(p, "https://", 8)))) {
        /* absolute-form: the path starts after the authority. */
        p = memchr(p, ':', len) + 3;
        while (p < end && *p != '/' && *p != '?') p++;
    } else if (len == 0 || *p != '/') {
        return "the request target must start with '/'";
    }
    /* The path, %2E turned into '.', then its dot segments removed: each
     * segment is appended and ".." pops back to the previous '/'. */
    char *o = out;
    *o++ = '/';
    if (p < end && *p == '/') p++;
    while (p <= end && (p == end || *p != '?')) {
        const char *seg = o;
        while (p < end && *p != '/' && *p != '?') {
            unsigned char c = (unsigned char)*p;
            if (c <= 0x20 || c >= 0x7f) return "the path has a control, space or non-ASCII byte (send it %-encoded)";
            if (c == '#') return "a fragment (#) is not part of a request target";
            if (c == '%') {
                if (end - p < 3 || hex_value((unsigned char)p[1]) < 0 || hex_value((unsigned char)p[2]) < 0)
                    return "the path has a '%' not followed by two hex digits";
                int v = hex_value((unsigned char)p[1]) * 16 + hex_value((unsigned char)p[2]);
                if (v == 0) return "the path has an encoded NUL (%00)";
                if (v == '.') {
                    *o++ = '.';
                    p += 3;
                    continue;
                }
                *o++ = *p++, *o++ = *p++, *o++ = *p++;
                continue;
            }
            *o++ = *p++;
        }
        size_t n = (size_t)(o - seg);
        bool last = p == end || *p == '?';
        if (n == 1 && seg[0] == '.') {
            o = (char *)seg;
        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            o = (char *)seg;
            if (o - 1 > out) { /* drop the previous segment, keep its leading '/' */
                o--;
                while (o > out && o[-1] != '/') o--;
            }
        } else if (!last) {
            *o++ = '/';
        }
        if (last) break;
        p++; /* the '/' */
    }
    *o++ = '\0';
    *path = out;
    if (decodes_to_dot_segment(out)) return "the path has an encoded '/' that makes a dot segment";
    const char *q = p < end && *p == '?' ? p + 1 : end;
    for (const char *c = q; c < end; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) return "the query has a control, space or non-ASCII byte";
        if (*c == '#') return "a fragment (#) is not part of a request target";
    }
    memcpy(o, q, (size_t)(end - q));
    o[end - q] = '\0';
    *query = o;
    return NULL;
}
