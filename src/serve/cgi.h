/*
 * cgi.h — the response half of the WAGI contract (docs/http-apps.md): what
 * an app writes on stdout, header lines, a blank line, then the body,
 * turned into an HTTP status, headers and body.
 */
#ifndef QYVOL_SERVE_CGI_H
#define QYVOL_SERVE_CGI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cgi_header {
    char *name;
    char *value;
} cgi_header;

typedef struct cgi_response {
    int status;
    cgi_header *headers;    /* to send as they are (Status is not among them) */
    size_t nheaders;
    const char *body;       /* points into the parsed output */
    size_t body_len;
} cgi_response;

/* Parse the app's output. On a malformed response returns false with the
 * reason in why (the server answers 502 and logs it). */
bool cgi_parse(const char *out, size_t len, cgi_response *res, char *why, size_t whylen);
void cgi_response_free(cgi_response *res);

#endif
