/*
 * manifest.h — the `.qyv` application manifest: load an `app.qyv` file (a
 * YAML mapping) into typed C structs, with defaults applied and every value
 * checked.
 *
 * What this module offers:
 *   - qv_manifest_load(path, &err): read and parse a manifest file;
 *   - qv_manifest_parse(text, len, name, &err): the same from memory (name
 *     is used in messages and to locate files relative to the manifest);
 *   - qv_manifest_free();
 *   - the names of the enum values (for messages and `qyv` output).
 *
 * Warnings: a manifest that loads may still hold something legal but
 * probably not meant (an exclude that hides nothing). Each is kept in
 * qv_manifest.warnings as one line "FILE:LINE:COLUMN: warning: ...";
 * runners show them (`qyv validate` and `qyv run` on stderr, `qyv serve`
 * as warn log lines) and go on.
 *
 * Errors: on failure the functions return NULL and fill *err with one
 * message "FILE:LINE:COLUMN: what is wrong; what was expected". LINE and
 * COLUMN are 1-based and count characters, as libyaml's marks do. Parsing
 * stops at the first mistake. A file that cannot be read gives
 * "FILE: cannot read: REASON" with line and column 0.
 *
 * The format, every key and its default are documented in docs/manifest.md.
 * Parsing does not touch the file system beyond reading the manifest
 * itself: whether the entry point and fs.source exist is checked by the
 * runner when it opens them.
 */
#ifndef QYVOL_MANIFEST_H
#define QYVOL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults, applied when a key is absent. */
#define QV_MANIFEST_DEFAULT_TIMEOUT_MS 30000u          /* timeout: 30s */
#define QV_MANIFEST_DEFAULT_REPLICAS 1u                 /* deploy.replicas */
#define QV_MANIFEST_DEFAULT_HEALTH_PATH "/health"       /* deploy.health_check.path */
#define QV_MANIFEST_DEFAULT_HEALTH_INTERVAL_MS 30000u   /* deploy.health_check.interval */
#define QV_MANIFEST_DEFAULT_HEALTH_TIMEOUT_MS 5000u     /* deploy.health_check.timeout */
#define QV_MANIFEST_DEFAULT_HEALTH_RETRIES 3u           /* deploy.health_check.retries */

/* Limits that catch typos such as `replicas: 30000` (documented). */
#define QV_MANIFEST_MAX_REPLICAS 10000u
#define QV_MANIFEST_MAX_RETRIES 100u
/* Entries in any one list (args, paths, hosts, ports) or in env: bounds
 * the parser's work and the guest's start-up data. */
#define QV_MANIFEST_MAX_ITEMS 1024u
/* The smallest memory limit that can hold one WebAssembly page. */
#define QV_MANIFEST_MIN_MEMORY_BYTES 65536u
/* Manifests are small; a bigger file is a mistake (or an attack). */
#define QV_MANIFEST_MAX_FILE_BYTES (1024u * 1024u)
/* Lists and maps inside each other: the format needs 4 levels. Checked
 * while the YAML is read, before it is all loaded: libyaml takes time
 * quadratic in the nesting depth (and in the number of anchors). */
#define QV_MANIFEST_MAX_DEPTH 32u
#define QV_MANIFEST_MAX_ANCHORS 100u
/* Spaces or tabs in a row, and blank lines in a row: libyaml clears its
 * whole whitespace buffer at every later space in the same value, so a
 * long run followed by many short ones costs their product. */
#define QV_MANIFEST_MAX_BLANK_RUN 256u
/* Warnings kept per manifest; past the cap the last one kept says how
 * many more there were. */
#define QV_MANIFEST_MAX_WARNINGS 8u

typedef struct qv_manifest_error {
    unsigned line;      /* 1-based; 0 when the error has no position */
    unsigned column;    /* 1-based, in characters; 0 likewise */
    char message[512];  /* the whole "FILE:LINE:COLUMN: ..." line, no '\n' */
    /* The manifest asks for a permission Qyvol refuses to grant (exec:
     * true), rather than being malformed: runners report it apart. */
    bool permission_refused;
} qv_manifest_error;

/* Where a value is written in the manifest (1-based), for the runner's
 * messages about it (a path that leads out of the app folder). */
typedef struct qv_manifest_pos {
    unsigned line, column;
} qv_manifest_pos;
typedef struct qv_manifest_warning {
    unsigned line;      /* 1-based; 0 when the warning has no position */
    unsigned column;    /* 1-based, in characters; 0 likewise */
    char message[512];  /* "FILE:LINE:COLUMN: warning: ...", no '\n' */
} qv_manifest_warning;

typedef struct qv_string_list {
    char **items;
    qv_manifest_pos *at;        /* where each item is written */
    size_t count;
} qv_string_list;

/* One `env` entry; entries keep the manifest's order. A value written
 * `{secret: NAME}` has value NULL and secret NAME: a cluster gives it
 * (docs/manifest.md, "Secrets"). */
typedef struct qv_env_var {
    char *name;
    char *value;
    char *secret;
    qv_manifest_pos at;         /* where the value is written */
} qv_env_var;

/* One `secrets` entry: the secret NAME as the read-only file PATH in the
 * guest (an absolute path outside /app, in a folder other than /). */
typedef struct qv_secret_file {
    char *name;
    char *path;
    qv_manifest_pos at;
} qv_secret_file;

typedef struct qv_env {
    qv_env_var *vars;
    size_t count;
} qv_env;

typedef enum qv_runtime {
    QV_RUNTIME_WASI,            /* WASI: a preview 1 module or a 0.2 component, told by its bytes */
    QV_RUNTIME_WASIP1,          /* a WASI preview 1 core module (WAGI for http apps) */
    QV_RUNTIME_WASIP2,          /* a WASI 0.2 component (wasi:http for http apps) */
} qv_runtime;

typedef enum qv_app_type {
    QV_APP_CLI,                 /* runs once: args in, exit status out */
    QV_APP_HTTP,                /* one instance per HTTP request (WAGI) */
} qv_app_type;

/* permissions.fs. The scalar forms apply to the whole app folder at /app;
 * QV_FS_PATHS is the map form, which grants exactly the listed guest
 * paths. */
typedef enum qv_fs_access {
    QV_FS_NONE,
    QV_FS_READ,
    QV_FS_WRITE,
    QV_FS_READ_WRITE,
    QV_FS_PATHS,
} qv_fs_access;

typedef struct qv_fs_permission {
    qv_fs_access access;
    /* Only for QV_FS_PATHS: absolute guest paths under /app, without "."
     * or ".." components, with no trailing '/'. A path in both lists is
     * read-write. Each exclude path lies inside a read or write path. */
    qv_string_list read;
    qv_string_list write;
    qv_string_list exclude;
} qv_fs_permission;

typedef enum qv_net_access {
    QV_NET_NONE,                /* net: false (default) */
    QV_NET_ANY,                 /* net: true */
    QV_NET_RESTRICTED,          /* the map form */
} qv_net_access;

typedef struct qv_net_permission {
    qv_net_access access;
    /* Only for QV_NET_RESTRICTED. count 0 means "not restricted on this
     * dimension" (the key was absent; an empty list is rejected). */
    qv_string_list allowed_hosts;
    uint16_t *allowed_ports;
    size_t allowed_port_count;
    bool outbound_only;         /* default true */
} qv_net_permission;

typedef struct qv_permissions {
    qv_fs_permission fs;
    qv_net_permission net;
    bool exec;                  /* always false: `exec: true` is rejected */
} qv_permissions;

typedef enum qv_fs_type {
    QV_FS_DISKFS,               /* /app is a host directory (default) */
    QV_FS_MEMFS,                /* /app is private scratch in memory */
} qv_fs_type;

/* The top-level `fs` key: what the guest's /app is made of. */
typedef struct qv_fs_mount {
    qv_fs_type type;
    /* `source` as written, relative to the manifest's folder; "." when
     * absent for diskfs, NULL when absent for memfs (starts empty). */
    char *source;
    /* source joined to the manifest's folder (a host path), or NULL. */
    char *source_path;
    qv_manifest_pos source_at;  /* 0:0 when absent */
} qv_fs_mount;

/* deploy.health_check, and cluster.load_balancer.health_check (which has
 * no path). */
typedef struct qv_health_check {
    bool enabled;               /* the key was present */
    char *path;                 /* request path as the app sees it; NULL in
                                 * the balancer's check: "the replica answers" */
    uint64_t interval_ms;
    uint64_t timeout_ms;        /* <= interval_ms */
    uint32_t retries;           /* failures in a row before "unhealthy" */
} qv_health_check;

typedef struct qv_resources {
    uint64_t memory_bytes;      /* 0: not set (the engine's limit applies) */
    uint32_t cpu_millicores;    /* 0: not set (no CPU quota) */
} qv_resources;

/* deploy.strategy: how the cluster rolls a new revision of the app out
 * (docs/manifest.md, "Releases"). Each `*_set` says the key was written;
 * unwritten ones take the cluster's defaults. */
#define QV_STRATEGY_MAX_STEPS 10
typedef enum qv_strategy_type { QV_STRATEGY_ROLLING, QV_STRATEGY_BLUE_GREEN, QV_STRATEGY_CANARY } qv_strategy_type;
typedef struct qv_strategy {
    bool present;
    qv_strategy_type type;
    uint32_t max_surge, max_unavailable;   /* counts, or percents when *_percent */
    bool surge_percent, unavailable_percent, surge_set, unavailable_set;
    uint32_t steps[QV_STRATEGY_MAX_STEPS]; /* canary: percent of traffic, rising, the last 100 */
    size_t nsteps;
    uint64_t pause_ms;                     /* canary: each step's pause */
    bool pause_set, manual;                /* pause: manual, wait for `rollout promote` */
    uint64_t keep_old_ms;                  /* blue_green: the old set kept after the switch */
    bool keep_old_set;
    uint64_t progress_deadline_ms;
    bool progress_deadline_set;
    bool rollback_on_failure, rollback_set;
    double max_error_rate;                 /* percent */
    bool max_error_rate_set;
    uint64_t max_latency_ms;
    bool max_latency_set;
    uint32_t min_requests;
    bool min_requests_set;
} qv_strategy;
/* deploy.autoscale: the cluster sets the replicas from the load
 * (docs/manifest.md; the master's autoscaler, docs/cluster.md). */
typedef struct qv_autoscale {
    bool enabled;               /* the key was present */
    uint32_t min, max;          /* replicas, min <= max */
    uint32_t cpu_threshold;     /* target CPU, percent of what is asked; 0: not a target */
    uint32_t target_inflight;   /* target requests in flight per replica; 0: not a target */
    int64_t window_ms;          /* scale-down stabilisation window; -1: the master's */
} qv_autoscale;

#define QV_MANIFEST_MAX_INFLIGHT 100000u
#define QV_MANIFEST_MAX_WINDOW_MS (24ull * 3600 * 1000)

typedef struct qv_deploy {
    uint32_t replicas;
    qv_resources resources;
    qv_health_check health_check;
    qv_strategy strategy;
    qv_autoscale autoscale;
} qv_deploy;

typedef enum qv_lb_algorithm {
    QV_LB_ROUND_ROBIN,
    QV_LB_LEAST_CONNECTIONS,
    QV_LB_WEIGHTED,
} qv_lb_algorithm;

typedef struct qv_cluster {
    qv_lb_algorithm algorithm;
    qv_manifest_pos algorithm_at; /* 0:0 when absent (the default) */
    /* cluster.load_balancer.health_check: how the balancer checks each
     * replica (docs/manifest.md, "Deploy and cluster"). When both are
     * present, deploy.health_check's unwritten interval, timeout and
     * retries are these. */
    qv_health_check health_check;
} qv_cluster;

typedef struct qv_manifest {
    char *file;                 /* the path or name it was parsed from */
    char *dir;                  /* its folder ("." if none): the app folder */
    char *name;                 /* required; a DNS label */
    char *entrypoint;           /* required; as written, relative, *.wasm */
    char *entrypoint_path;      /* entrypoint joined to dir */
    qv_manifest_pos entrypoint_at;
    qv_runtime runtime;
    qv_manifest_pos runtime_at;  /* 0:0 when absent */
    char *language;             /* informational; NULL if absent */
    qv_app_type type;           /* without `type`: http when route or
                                 * deploy.health_check is given, else cli */
    qv_string_list args;
    qv_env env;
    char *route;                /* http apps: default "/<name>"; cli: NULL */
    uint64_t timeout_ms;        /* per run (cli) or per request (http) */
    qv_permissions permissions;
    qv_fs_mount fs;
    qv_deploy deploy;
    qv_cluster cluster;
    qv_secret_file *secret_files;   /* `secrets` */
    size_t secret_file_count;
    qv_manifest_warning warnings[QV_MANIFEST_MAX_WARNINGS];
    size_t warning_count;       /* <= QV_MANIFEST_MAX_WARNINGS */
} qv_manifest;

/* Read the manifest at `path` and parse it. Returns NULL and fills *err
 * (if not NULL) on failure. */
qv_manifest *qv_manifest_load(const char *path, qv_manifest_error *err);

/* Parse `len` bytes of manifest text. `name` (may be NULL: "manifest")
 * stands for the file in messages, and its folder is the app folder. */
qv_manifest *qv_manifest_parse(const char *text, size_t len, const char *name,
                               qv_manifest_error *err);

void qv_manifest_free(qv_manifest *manifest);

/* Whether the manifest refers to any secret (env values or files). */
bool qv_manifest_uses_secrets(const qv_manifest *manifest);

/* The manifest spelling of each enum value ("wasi", "http", "read-write",
 * "memfs", "least_connections", ...). */
const char *qv_runtime_name(qv_runtime runtime);
const char *qv_app_type_name(qv_app_type type);
const char *qv_fs_access_name(qv_fs_access access);  /* QV_FS_PATHS: "paths" */
const char *qv_fs_type_name(qv_fs_type type);
const char *qv_lb_algorithm_name(qv_lb_algorithm algorithm);

#endif
