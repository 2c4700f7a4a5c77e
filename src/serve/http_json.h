/*
 * http_json.h — JSON answers on the HTTP server (http1.h), as the cluster
 * API gives them: one compact line, Content-Type application/json, and
 * errors as {"error":"..."}.
 */
#ifndef QYVOL_SERVE_HTTP_JSON_H
#define QYVOL_SERVE_HTTP_JSON_H

#include <jansson.h>

#include "serve/http1.h"

/* Answer x with body (taken over; NULL or unprintable: 500). */
void http_respond_json(http_exchange *x, int status, json_t *body);

/* Answer x with {"error": the formatted message}. */
void http_respond_json_error(http_exchange *x, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
