/*
 * log_query.h — answering a query for the kept log lines (log.h) over
 * HTTP: `?app=NAME&level=LEVEL&tail=N[&follow=1]` gives the last N lines
 * that match as NDJSON and, with follow=1, every new one as a chunk until
 * the client goes or the server stops. Serves `qyv serve`'s /_qyvol/logs
 * and a node's /v1/logs.
 */
#ifndef QYVOL_SERVE_LOG_QUERY_H
#define QYVOL_SERVE_LOG_QUERY_H

#include "serve/http1.h"

/* The open follow streams of one server. Zero-initialise. */
typedef struct log_followers {
    struct log_query *first;
} log_followers;

/* Answer r (already authorised) from the kept lines; a follower joins f. */
void log_query_serve(log_followers *f, http_exchange *x, const http_request *r);

/* End every follow stream (at shutdown). */
void log_followers_end(log_followers *f);

#endif
