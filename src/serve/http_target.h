/*
 * http_target.h — a request-target made safe to route on (RFC 9112 3.2,
 * RFC 3986 5.2.4): origin-form or absolute-form, its path checked (no
 * control or non-ASCII bytes, well-formed %XX, no %00), %2E read as '.',
 * and dot segments removed, so that "/a/../b" cannot reach an app that a
 * router would not give "/b" to.
 */
#ifndef QYVOL_SERVE_HTTP_TARGET_H
#define QYVOL_SERVE_HTTP_TARGET_H

#include <stddef.h>

/* Split target[0..len) into a normalised path and the query (after '?',
 * without it; "" when none), both NUL-terminated in out, which must hold
 * len + 3 bytes: *path and *query point into it. Returns NULL, or what is
 * wrong with the target (a 400). */
const char *http_target_parse(const char *target, size_t len, char *out, const char **path, const char **query);

#endif
