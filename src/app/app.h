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

#include "manifest/manifest.h"
#include "qyvol/wasi.h"
#include "qyvol/wasi_http.h"

/* Failures of run_from_manifest; they are also `qyv run`'s exit statuses. */
enum {
    APP_CANNOT_START = 125,  /* unreadable or invalid manifest, missing folder */
    APP_REFUSED = 126,       /* the manifest asks for a permission we refuse */
};

typedef struct run_config {
    char *module_path;         /* for messages, and to read when module is NULL */
    /* A manifest's module, read when the manifest was (beneath the app
     * folder: see app_open_beneath), or NULL. */
    uint8_t *module;
    size_t module_len;
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
    /* runtime: 0 either (told by the entrypoint's bytes), 1 a preview 1
     * module, 2 a component; runtime_at its "FILE:LINE:COLUMN" or NULL. */
    int runtime;
    char *runtime_at;
    /* permissions.net for outbound wasi:http: 0 none, 1 any, 2 the
     * hosts and ports listed (none listed: any of them). */
    int net;
    char **net_hosts;
    size_t nnet_hosts;
    uint16_t *net_ports;
    size_t nnet_ports;
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
    qv_autoscale autoscale;    /* deploy.autoscale (the cluster's autoscaler) */
    uint32_t cpu_millicores;   /* per replica; 0: no quota */
    int lb_algorithm;          /* qv_lb_algorithm */
    bool lb_named;             /* ... written in the manifest: requests, not
                                * connections, are balanced (qyv serve
                                * keeps the hop through the front) */
    char **owned;              /* strings the preopens point to */
    size_t nowned;
    /* A manifest's grants are opened beneath grant_base (the app folder,
     * or its memfs copy), never by their host_path, so that no symbolic
     * link leads them out (run_open_grants). Per preopen: its path below
     * grant_base and what names it in messages, or NULL for a --dir one. */
    char *grant_base;
    char **grant_rel;
    char **grant_what;
    /* The manifest's warnings, "FILE:LINE:COLUMN: warning: ...": the
     * runner shows them (qyv run on stderr, qyv serve as warn lines). */
    char **warnings;
    size_t nwarnings;
    /* Set by a cluster node before run_from_manifest: it gives the
     * manifest's secrets itself (env over the manifest's, files as
     * read-only preopens). Without it a manifest that refers to a secret
     * does not start (secrets need a cluster). */
    bool secrets_given;
} run_config;

/* The engine limits for a memory limit of `memory_bytes` (0: none): each
 * memory at most that many whole pages, and everything the guest makes
 * the store allocate (memory, tables, globals, segments, output) counted
 * in one budget of memory_bytes + RUN_BOOKKEEPING_BYTES — the slack for
 * the engine's own records of an instance (its functions, the arrays of
 * its parts), so that a module whose memory is exactly the limit runs. */
#define RUN_BOOKKEEPING_BYTES ((uint64_t)64 << 10)
qv_store_limits run_store_limits(uint64_t memory_bytes);

/* Append helpers; false when out of memory. */
bool run_add_arg(run_config *rc, const char *arg);
bool run_add_warning(run_config *rc, const char *line);
bool run_set_env(run_config *rc, const char *kv);       /* replaces the same key */
bool run_add_preopen(run_config *rc, const char *host, const char *guest, unsigned access,
                     char **hidden, size_t nhidden);     /* takes host, guest, hidden */
char *run_own(run_config *rc, char *s);                  /* keep s until run_config_free */
/* Whether the entrypoint's kind (component or core module) is what
 * `runtime` asks for; false with the reason ("FILE:LINE:COLUMN: ...") in why. */
bool run_runtime_matches(const run_config *rc, bool component, char *why, size_t len);
/* What outbound wasi:http requests may reach (permissions.net), ending by
 * deadline_ns (0: none). Points into rc. */
qv_http_policy run_http_policy(const run_config *rc, uint64_t deadline_ns);
void run_config_free(run_config *rc);

/* Why a manifest could not be made runnable: one line, starting with the
 * manifest's FILE:LINE:COLUMN (or FILE) when the problem is in it. */
typedef struct app_error {
    char text[768];
} app_error;

/* A grant named by a manifest: `rel` below grant_base (both taken),
 * `what` saying where the manifest names it. */
bool run_add_app_grant(run_config *rc, char *rel, char *guest, unsigned access, char **hidden, size_t nhidden,
                       char *what);

/* Open every manifest grant beneath grant_base (app_open_beneath) and give
 * the descriptors to the preopens (qv_wasi_preopen.dir_fd). Done when the
 * manifest is read, and again by each process that runs instances after
 * a fork (a replica: its parent's descriptors are closed by then; they
 * are forgotten, not closed). 0, or APP_CANNOT_START with the reason. */
int run_open_grants(run_config *rc, app_error *why);

/* Fill rc from the manifest at `path` (its args come first). Returns 0, or
 * APP_CANNOT_START / APP_REFUSED with the reason in *why. */
int run_from_manifest(run_config *rc, const char *path, app_error *why);

/* memfs: a private copy of the folder open at `source` (-1: empty) in
 * memory-backed storage; the path or NULL with errno set. Symbolic links
 * are copied as links (the sandbox decides what following them means);
 * run_scratch_remove deletes it. */
char *run_scratch_create(int source);
void run_scratch_remove(const char *path);

/* Paths a manifest names, resolved beneath its app folder (app_paths.c).
 * The rule: nothing outside the folder can be named — `..`, absolute
 * paths, symbolic links (absolute, or relative and leading out, the
 * folders on the way included) and /proc magic links are refused, and so
 * is a folder on procfs or sysfs. A descriptor, or -1 with errno (EXDEV
 * for a way out). */
int app_open_beneath(int folder, const char *path, int flags);
/* What errno from app_open_beneath means, for messages. */
const char *app_beneath_error(int err);
/* qyv validate: the paths of manifest m that exist must not lead out of
 * its folder (whether they exist is checked when the app starts). 0, or
 * APP_CANNOT_START with FILE:LINE:COLUMN and the reason in *why. */
int app_check_paths(const qv_manifest *m, app_error *why);

#endif
