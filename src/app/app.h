/*
 * app.h — an app made runnable: what it takes to start a WASI program
 * (module, argv, environment, pre-opened directories, limits), built from
 * the command line or from an app.qyv manifest. Used by `qyv run` and
 * `qyv serve`.
 */
#ifndef QYVOL_APP_H
#define QYVOL_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasi.h"

/* Failures of run_from_manifest; they are also `qyv run`'s exit statuses. */
enum {
    APP_CANNOT_START = 125,  /* unreadable or invalid manifest, missing folder */
    APP_REFUSED = 126,       /* the manifest asks for a permission we refuse */
};

typedef struct run_config {
    char *module_path;
    char *label;               /* the file named on the command line, for messages */
    char **args;               /* argv for the guest, args[0] its name */
    size_t nargs;
    char **env;                /* "K=V" */
    size_t nenv;
    qv_wasi_preopen *preopens;
    size_t npreopens;
    uint64_t timeout_ms;       /* 0: none */
    uint64_t memory_bytes;     /* 0: the engine's default */
    int64_t fuel;              /* < 0: unlimited */
    char *scratch;             /* a memfs folder to delete afterwards, or NULL */
    char *name;                /* the manifest's app name, or NULL */
    char *route;               /* http apps: the URL prefix they answer */
    bool http;                 /* type: http */
    /* deploy.health_check (http apps under qyv serve); its timing already
     * defaults to the balancer's check below. */
    bool health_enabled;
    char *health_path;
    uint64_t health_interval_ms, health_timeout_ms;
    uint32_t health_retries;
    /* cluster.load_balancer.health_check: how the balancer checks each
     * replica answers (docs/manifest.md, "Deploy and cluster"). qyv serve's
     * pool has no probe without a path yet, so only the cluster uses them. */
    bool lb_check_enabled;
    uint64_t lb_check_interval_ms, lb_check_timeout_ms;
    uint32_t lb_check_retries;
    /* deploy and cluster (qyv serve). */
    uint32_t replicas;         /* processes serving the app, >= 1 */
    uint32_t cpu_millicores;   /* per replica; 0: no quota */
    int lb_algorithm;          /* qv_lb_algorithm */
    char **owned;              /* strings the preopens point to */
    size_t nowned;
    /* The manifest's warnings, "FILE:LINE:COLUMN: warning: ...": the
     * runner shows them (qyv run on stderr, qyv serve as warn lines). */
    char **warnings;
    size_t nwarnings;
} run_config;

/* Append helpers; false when out of memory. */
bool run_add_arg(run_config *rc, const char *arg);
bool run_add_warning(run_config *rc, const char *line);
bool run_set_env(run_config *rc, const char *kv);       /* replaces the same key */
bool run_add_preopen(run_config *rc, const char *host, const char *guest, unsigned access,
                     char **hidden, size_t nhidden);     /* takes host, guest, hidden */
char *run_own(run_config *rc, char *s);                  /* keep s until run_config_free */
void run_config_free(run_config *rc);

/* Why a manifest could not be made runnable: one line, starting with the
 * manifest's FILE:LINE:COLUMN (or FILE) when the problem is in it. */
typedef struct app_error {
    char text[768];
} app_error;

/* Fill rc from the manifest at `path` (its args come first). Returns 0, or
 * APP_CANNOT_START / APP_REFUSED with the reason in *why. */
int run_from_manifest(run_config *rc, const char *path, app_error *why);

/* memfs: a private copy of `source` (may be NULL: empty) in memory-backed
 * storage; the path or NULL with errno set. run_scratch_remove deletes it. */
char *run_scratch_create(const char *source);
void run_scratch_remove(const char *path);

#endif
