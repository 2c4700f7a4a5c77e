/*
 * cluster_cli.h — what the `qyv cluster` commands (and `qyv deploy`)
 * share: the client configuration, the master's address and the token,
 * parsing of the arguments they have in common, and calls to the master
 * that print what went wrong in one line.
 *
 * The client configuration lives in $XDG_CONFIG_HOME/qyvol/ (else
 * ~/.config/qyvol/): `cluster.json` {"master": "HOST:PORT", "token_file":
 * "PATH"} and, by default, `token` (the cluster token, mode 0600). For
 * each command the master is --master, else $QYVOL_MASTER, else the
 * configuration's, else 127.0.0.1:7000; the token file is --token-file,
 * else $QYVOL_TOKEN_FILE, else the configuration's, else the default one.
 */
#ifndef QYVOL_CLI_CLUSTER_H
#define QYVOL_CLI_CLUSTER_H

#include "cluster/names.h"
#include "cluster/token.h"
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/client.h"

#define CLUSTER_DEFAULT_PORT 7000
#define CLUSTER_DEFAULT_MASTER "127.0.0.1:7000"
#define CLUSTER_ADDRESS_MAX 300

/* cluster.json, as read or to be written. */
typedef struct cluster_config {
    char master[CLUSTER_ADDRESS_MAX];   /* "" when not set */
    char token_file[PATH_MAX];          /* "" when not set */
} cluster_config;

/* One command's view: where the master is, how to prove the token. */
typedef struct cluster_ctx {
    const char *command;                /* "cluster deploy", for messages */
    char config_dir[PATH_MAX];
    cluster_config config;              /* as stored (to update and save) */
    char master[CLUSTER_ADDRESS_MAX];   /* in effect */
    char token_file[PATH_MAX];          /* in effect */
    char token[256];                    /* read when first needed */
    bool tls;                           /* the master speaks HTTPS (checked against ca_file) */
    char ca_file[PATH_MAX];             /* the cluster CA: $QYVOL_CA, else CONFIG/ca.crt */
    bool debug;                         /* print each API call */
    bool json;                          /* --output json */
} cluster_ctx;

/* --- configuration (cluster_config.c) --- */

/* $XDG_CONFIG_HOME/qyvol, else $HOME/.config/qyvol. */
bool cluster_config_dir(char *out, size_t size, char *why, size_t whylen);
/* Read DIR/cluster.json; a missing file leaves *cfg empty and is fine. */
bool cluster_config_load(const char *dir, cluster_config *cfg, char *why, size_t whylen);
/* Write DIR/cluster.json (mode 0600, replaced atomically; DIR made 0700). */
bool cluster_config_save(const char *dir, const cluster_config *cfg, char *why, size_t whylen);
/* Fill ctx->config_dir, ->config, ->master, ->token_file by the order of
 * precedence above; flag_master / flag_token_file may be NULL. When only
 * the master's address is bad, ctx->master is "" and the rest is set. */
bool cluster_ctx_resolve(cluster_ctx *ctx, const char *flag_master, const char *flag_token_file, char *why,
                         size_t whylen);
/* HTTPS or plain HTTP to the master named by text (as given: a scheme
 * decides; without one, HTTPS when the cluster CA is there, as `qyv
 * cluster init` leaves it). Sets ctx->tls and ctx->ca_file; false with
 * why when https:// is asked for and there is no CA to check it with. */
bool cluster_ctx_transport(cluster_ctx *ctx, const char *text, char *why, size_t whylen);
/* Write text + "\n" to path with mode 0600, atomically; refuses to
 * replace an existing file unless replace. */
bool cluster_secret_write(const char *path, const char *text, bool replace, char *why, size_t whylen);
/* Where `qyv cluster up` keeps the master's and nodes' data: flag, else
 * $XDG_DATA_HOME/qyvol/cluster, else ~/.local/share/qyvol/cluster. */
bool cluster_data_dir(const char *flag, char *out, size_t size, char *why, size_t whylen);
/* path made absolute against the working folder (no resolving). */
bool cluster_absolute(const char *path, char *out, size_t size);
/* 32 random bytes as 64 hex digits (getrandom). */
bool cluster_token_new(char out[65], char *why, size_t whylen);

/* --- arguments (cluster_args.c) --- */

/* Write the message into why; returns false (for `return cluster_fail(...)`). */
bool cluster_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A master or node address as people write it: HOST:PORT, [V6]:PORT,
 * http://HOST[:PORT][/], https://HOST[:PORT][/], HOST alone (port 7000).
 * Into out as HOST:PORT. */
bool cluster_parse_server(const char *text, char *out, size_t size, char *why, size_t whylen);
/* The app an argument names: a manifest file (its `name`; a manifest that
 * does not load gives its FILE:LINE:COLUMN message) or an app name. */
bool cluster_app_name(const char *arg, char *out, size_t size, char *why, size_t whylen);
/* The APP operand into name: 0, or the exit status after printing why
 * (1 for a manifest that does not load, 2 for a bad name) (cluster_apps.c). */
int cluster_app_operand(cluster_ctx *ctx, const char *arg, char *name, size_t size);
/* A deploy flag into the "overrides" object of POST /v1/apps (opt is the
 * long option's name: replicas, memory, cpu, env, port, nodes). */
bool cluster_override(json_t *overrides, const char *opt, const char *arg, char *why, size_t whylen);
/* "--output json" / "--output table": sets *json. */
bool cluster_output(const char *arg, bool *json);

/* --- calls to the master (cluster_call.c) --- */

/* Read the token, call the master (printing the call with --debug), and
 * on no answer print "qyv COMMAND: no master answered at ADDR: REASON".
 * Returns false then, true with any HTTP status. */
bool cluster_call(cluster_ctx *ctx, const char *method, const char *path, const char *content_type,
                  const void *body, size_t len, long timeout_ms, api_reply *out);
/* GET path with the 2xx body streamed to piece (a refusal kept in out);
 * false after printing why when no answer came. */
bool cluster_stream(cluster_ctx *ctx, const char *path, api_piece_fn piece, void *arg, api_reply *out);
/* cluster_call with a JSON body (stolen: decref'd here). */
bool cluster_call_json(cluster_ctx *ctx, const char *method, const char *path, json_t *body, api_reply *out);
/* The answer's JSON, or NULL after printing why (a refusal's "error", or
 * a body that is not JSON). want: the status expected (0: any 2xx). */
json_t *cluster_answer(cluster_ctx *ctx, const api_reply *reply, long want);
/* GET path, answered as JSON (NULL after printing why). */
json_t *cluster_get(cluster_ctx *ctx, const char *path);
/* Print the JSON (indented) for --output json. */
void cluster_print_json(const json_t *json);
/* "qyv COMMAND: " + message. */
void cluster_say(const cluster_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Percent-encode a query value into out. */
void cluster_query_escape(const char *in, char *out, size_t size);

/* --- output (cluster_table.c) --- */

typedef struct cluster_table {
    char **cells;       /* row after row */
    size_t columns;
    size_t ncells;      /* cells so far (a row is `columns` cells) */
    size_t cap;
} cluster_table;

/* A table of `columns` columns whose first row is head's names. */
void cluster_table_init(cluster_table *t, const char *const *head, size_t columns);
/* Append one cell; rows fill left to right. */
void cluster_table_cell(cluster_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print aligned, the first row as the header; frees the table. */
void cluster_table_print(cluster_table *t);
void cluster_table_free(cluster_table *t);
/* 536870912 -> "512MiB" (exact powers of 1024 where they fit, else one
 * decimal). */
void cluster_format_bytes(uint64_t bytes, char *out, size_t size);
/* 1500 -> "1.5" CPUs. */
void cluster_format_cpu(uint64_t millicores, char *out, size_t size);
/* 420 -> "420ms", 65000 -> "1m5s". */
void cluster_format_age(uint64_t ms, char *out, size_t size);

/* --- named things: tokens, secrets, the audit log (cluster_list.c) --- */

typedef struct cluster_action {
    const char *name;
    int (*run)(cluster_ctx *ctx, int argc, char **argv);
} cluster_action;
/* argv[1] names one of actions: run it with argv + 1 (ctx->command
 * becomes "PREFIX ACTION"); usage for --help, nothing or another name. */
int cluster_run_action(cluster_ctx *ctx, int argc, char **argv, const char *usage, const char *prefix,
                       const cluster_action *actions, size_t n);
/* GET path: with --output json its JSON, else a table of the objects in
 * its array `key`, one row() each, under the headers. The exit status. */
int cluster_list_table(cluster_ctx *ctx, const char *path, const char *key, const char *const *headers,
                       size_t columns, void (*row)(cluster_table *t, const json_t *item));
/* DELETE /v1/COLLECTION/NAME for the one operand NAME; prints
 * "DONE NAME". The exit status. */
int cluster_delete_named(cluster_ctx *ctx, int argc, char **argv, const char *usage, const char *collection,
                         const char *done);
/* ms since the epoch as "2026-12-07 03:04:05" (UTC). */
void cluster_format_time(uint64_t ms, char *out, size_t size);

/* --- deploy's answer (cluster_deploy.c), shared with scale --- */

/* Print "node-a 4, node-b 3" for a placement object. */
void cluster_print_placement(const json_t *placement);
/* Print what a deploy or scale answer says (placed, pending with the
 * reason, refused); the exit status. verb: "deployed", "scaled". */
int cluster_report_placement(cluster_ctx *ctx, const api_reply *reply, const char *verb);

/* --- usage (cluster_usage.c) --- */

/* --output's value into ctx->json; false after saying what is wrong. */
bool cluster_output_option(cluster_ctx *ctx, const char *arg);
/* --node's value, checked to be a node name; false after saying why. */
bool cluster_node_option(cluster_ctx *ctx, const char *arg, const char **node);
/* A list command's options, --output and --help, and at most
 * max_operands operands (from argv[optind] on return). Returns -1 to go
 * on, or the exit status. */
int cluster_list_options(cluster_ctx *ctx, int argc, char **argv, const char *usage, int max_operands);

/* Report the option getopt_long rejected, print usage; QYV_EXIT_USAGE. */
int cluster_usage_error(const cluster_ctx *ctx, const char *usage, int opt, char **argv);
/* The one operand of a subcommand that takes only --help; NULL with
 * *status set (0 after --help, 2 after a mistake) otherwise. */
const char *cluster_one_operand(const cluster_ctx *ctx, int argc, char **argv, const char *usage, int *status);
/* A token in ctx->token_file, made (and the configuration saved) unless
 * one is there and !replace (cluster_init.c). */
bool cluster_ensure_token(cluster_ctx *ctx, bool replace, bool *made);

/* --- the commands --- */

int cluster_init(cluster_ctx *ctx, int argc, char **argv);
int cluster_up(cluster_ctx *ctx, int argc, char **argv);
int cluster_set_master(cluster_ctx *ctx, int argc, char **argv);
int cluster_auth(cluster_ctx *ctx, int argc, char **argv);
int cluster_add_node(cluster_ctx *ctx, int argc, char **argv);
int cluster_list_nodes(cluster_ctx *ctx, int argc, char **argv);
int cluster_health(cluster_ctx *ctx, int argc, char **argv);
int cluster_metrics(cluster_ctx *ctx, int argc, char **argv);
int cluster_deploy(cluster_ctx *ctx, int argc, char **argv);
int cluster_scale(cluster_ctx *ctx, int argc, char **argv);
int cluster_autoscale(cluster_ctx *ctx, int argc, char **argv);
/* "autoscaling APP: MIN to MAX replicas at N% CPU; last: ..." for an app's
 * object (GET /v1/apps/NAME), or "... off" (cluster_autoscale.c). */
void cluster_print_autoscale(const json_t *app);
int cluster_status(cluster_ctx *ctx, int argc, char **argv);
/* cluster_rollout.c: `qyv cluster rollout ...`; a deploy flag of the
 * rollout (--strategy, --steps, ...) into the body's "rollout" object
 * (false after saying why, or for a flag it does not know); a rollout
 * followed (wait: to its end; the exit status says how it ended). */
int cluster_rollout(cluster_ctx *ctx, int argc, char **argv);
bool cluster_rollout_flag(cluster_ctx *ctx, json_t *rollout, const char *flag, const char *text);
int cluster_rollout_watch(cluster_ctx *ctx, const char *app, bool wait);
/* The line of an app's rollout (its object, GET /v1/apps/NAME): always,
 * or only while it moves or stands failed. */
void cluster_print_rollout(const json_t *app, bool always);
/* deploy --wait for an app's first start: every replica ready. */
int cluster_wait_ready(cluster_ctx *ctx, const char *app);
int cluster_logs(cluster_ctx *ctx, int argc, char **argv);
int cluster_remove(cluster_ctx *ctx, int argc, char **argv);
/* `auth token create|list|revoke` and `audit` (cluster_access.c). */
int cluster_auth_token(cluster_ctx *ctx, int argc, char **argv);
int cluster_audit(cluster_ctx *ctx, int argc, char **argv);
/* `secret set|list|remove` (cluster_secret.c). */
int cluster_secret(cluster_ctx *ctx, int argc, char **argv);

/* `qyv cluster ...` and `qyv deploy FILE SERVER` (cmd_cluster.c). */
int cmd_cluster(int argc, char **argv);
int cmd_deploy(int argc, char **argv);

/* --- several masters (cluster_masters.c) --- */

/* Ask each master (those configured and those etcd lists) for its health
 * on its own; print a line per master and per etcd member (not with
 * --output json). *ok: exactly one leads. Returns the rows. */
json_t *cluster_masters_health(cluster_ctx *ctx, const json_t *health, bool *ok);

#endif
