/*
 * parse.h — internals shared by the manifest parser's files (not part of
 * the module's API; see manifest.h for that).
 *
 * The parser walks the document libyaml loaded. Each mapping of the format
 * is a "section": a table of its keys, each with a function that reads the
 * value into the section's C struct. mf_read_mapping() does what every
 * section needs (unknown and duplicate keys, suggestions); the readers
 * below check a value's type and syntax and report mistakes with the
 * position of the offending node.
 *
 * Every function that can fail returns false after filling ctx->err, so
 * callers just propagate false.
 */
#ifndef QYVOL_MANIFEST_PARSE_H
#define QYVOL_MANIFEST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "manifest/manifest.h"

typedef struct mf_ctx {
    yaml_document_t *doc;
    const char *file;           /* for messages */
    qv_manifest_error *err;     /* never NULL inside the parser */
    qv_manifest *manifest;      /* where mf_warn keeps warnings */
    size_t warnings_seen;       /* including those past the cap */
} mf_ctx;

#if defined(__GNUC__)
#define MF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MF_PRINTF(fmt, args)
#endif

/* ---------------------------------------------------------------- report.c */

/* Fill ctx->err with "FILE:LINE:COLUMN: message" at the node's (or mark's)
 * start. Always returns false. */
bool mf_fail(mf_ctx *ctx, const yaml_node_t *at, const char *fmt, ...) MF_PRINTF(3, 4);
bool mf_fail_mark(mf_ctx *ctx, yaml_mark_t mark, const char *fmt, ...) MF_PRINTF(3, 4);

/* Keep "FILE:LINE:COLUMN: warning: message" at the node's start in
 * ctx->manifest; past QV_MANIFEST_MAX_WARNINGS the last one kept becomes a
 * count of those not shown. Parsing goes on. */
void mf_warn(mf_ctx *ctx, const yaml_node_t *at, const char *fmt, ...) MF_PRINTF(3, 4);

/* Fill err with "FILE:LINE:COLUMN: message" (line and column 1-based; 0
 * leaves the position out). */
void mf_set_error(qv_manifest_error *err, const char *file, size_t line, size_t column,
                  const char *fmt, ...) MF_PRINTF(5, 6);

/* A copy of text fit for a one-line message: control characters escaped,
 * cut at 40 characters with "...". Returns buf. */
const char *mf_quote(const char *text, size_t len, char *buf, size_t size);
#define MF_QUOTE_SIZE 200

/* "a string", "a list", "a map" or "nothing" (a YAML null). */
const char *mf_kind(const yaml_node_t *node);

/* ---------------------------------------------------------------- nodes */

static inline yaml_node_t *mf_node(const mf_ctx *ctx, int id)
{
    return yaml_document_get_node(ctx->doc, id);
}

static inline qv_manifest_pos mf_pos(const yaml_node_t *node)
{
    return (qv_manifest_pos){(unsigned)node->start_mark.line + 1, (unsigned)node->start_mark.column + 1};
}

static inline const char *mf_text(const yaml_node_t *scalar)
{
    return (const char *)scalar->data.scalar.value;
}

/* A plain scalar that YAML reads as null: empty, ~, null, Null, NULL. */
bool mf_is_null(const yaml_node_t *node);

/* ---------------------------------------------------------------- scalars.c */

/* A string value (any scalar but null; no NUL characters). `key` is the
 * dotted key path used in messages. *out is a new copy. */
bool mf_read_string(mf_ctx *ctx, const yaml_node_t *node, const char *key, char **out);
/* true or false (also True/TRUE/False/FALSE), unquoted. */
bool mf_read_bool(mf_ctx *ctx, const yaml_node_t *node, const char *key, bool *out);
/* An unquoted decimal integer in [min, max], without sign or leading 0. */
bool mf_read_uint(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out);
/* One of names[0..count-1]; *out is its index. */
bool mf_read_enum(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                  const char *const *names, size_t count, int *out);
/* Quantities (units.h), quoted or not. */
bool mf_read_size(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint64_t *bytes);
bool mf_read_cpu(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint32_t *millicores);
bool mf_read_duration(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint64_t *ms);

/* Checks one string of a list; reports at `item`. */
typedef bool (*mf_item_check)(mf_ctx *ctx, const yaml_node_t *item, const char *key,
                              const char *text);
/* A list of strings, each passing `check` (may be NULL). "[]" is allowed
 * when empty_hint is NULL, else an error that ends with the hint. Items are
 * named "key[i]" (from 0) in messages. */
bool mf_read_string_list(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                         mf_item_check check, const char *empty_hint, qv_string_list *out);

/* Fails unless count <= QV_MANIFEST_MAX_ITEMS; `what` is "items",
 * "variables"... */
bool mf_check_count(mf_ctx *ctx, const yaml_node_t *node, const char *key, size_t count,
                    const char *what);

/* ---------------------------------------------------------------- mapping.c */

typedef bool (*mf_key_parser)(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);

typedef struct mf_key {
    const char *name;
    mf_key_parser parse;
} mf_key;

/* Other spellings people write for a key ("environment" for "env"), so a
 * typo of one of them still gets a suggestion. */
typedef struct mf_alias {
    const char *alias;
    const char *key;
} mf_alias;

typedef struct mf_section {
    const char *path;           /* "" for the top level, else "deploy.resources" */
    const mf_key *keys;
    size_t key_count;
    const mf_alias *aliases;
    size_t alias_count;
} mf_section;

/* Every section, so a key written in the wrong one can be pointed to the
 * right one ("'replicas' belongs in 'deploy'"). */
extern const mf_section mf_section_top, mf_section_permissions, mf_section_fs_paths,
    mf_section_net, mf_section_fs, mf_section_deploy, mf_section_resources,
    mf_section_health_check, mf_section_cluster, mf_section_load_balancer,
    mf_section_balancer_health_check, mf_section_strategy, mf_section_autoscale;

/* Check that node is a mapping and call the section's parser for each key
 * (in file order) with target. Rejects unknown, duplicate, non-string and
 * merge ("<<") keys. Messages name keys by section->path. */
bool mf_read_mapping(mf_ctx *ctx, const yaml_node_t *node, const mf_section *section,
                     void *target);

/* The value of `name` in a mapping node, or NULL. */
yaml_node_t *mf_map_get(const mf_ctx *ctx, const yaml_node_t *map, const char *name);

/* "deploy" + "replicas" -> "deploy.replicas"; "" + "name" -> "name". */
void mf_key_path(char *buf, size_t size, const char *parent, const char *key);
#define MF_KEY_PATH_SIZE 96

/* ---------------------------------------------------------------- checks.c */

bool mf_check_name(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text);
bool mf_check_entrypoint(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text);
/* A host path relative to the manifest's folder that stays inside it. */
bool mf_check_relative_path(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                            const char *text);
/* An HTTP path: "/", or "/segment/..." without empty, "." or ".." segments
 * or a trailing '/'. `what` is "route" or "path" for the message. */
bool mf_check_url_path(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text);
/* A guest path: /app or below it, normalised (see qv_fs_permission). */
bool mf_check_guest_path(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text);
bool mf_check_env_name(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text);
/* A host name ("api.example.com", "*.example.com") or an IP address. */
bool mf_check_host(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text);

/* ---------------------------------------------------------------- secrets.c */

/* An env value written {secret: NAME}: *secret gets NAME. */
bool mf_read_env_secret(mf_ctx *ctx, const yaml_node_t *node, const char *key, char **secret);
/* The top-level `secrets` list. */
bool mf_parse_secrets(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);

/* ---------------------------------------------------------------- paths.c */

/* The folder part of a file path: "a/b.qyv" -> "a", "b.qyv" -> ".". */
char *mf_dirname(const char *path);
/* dir joined with a relative path, "." and empty components dropped. */
char *mf_join(const char *dir, const char *relative);

/* ---------------------------------------------------------------- manifest.c */

/* The manifest spelling of each enum value, indexed by the enum. */
extern const char *const mf_runtime_names[3];
extern const char *const mf_app_type_names[2];
extern const char *const mf_fs_access_names[4];   /* the scalar forms */
extern const char *const mf_fs_type_names[2];
extern const char *const mf_lb_algorithm_names[3];

void mf_string_list_free(qv_string_list *list);

/* ---------------------------------------------------------------- yaml_doc.c */

/* Load the single YAML document in text into *doc. On failure fills err
 * with libyaml's message at its position and leaves nothing to free. */
bool mf_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *file,
                  qv_manifest_error *err);

/* ---------------------------------------------------------------- sections */

/* The root mapping into m (top_level.c). */
bool mf_read_top_level(mf_ctx *ctx, const yaml_node_t *root, qv_manifest *m);
/* Key parsers for the nested sections, used by the top-level table. */
bool mf_parse_permissions(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);
bool mf_parse_fs(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);
bool mf_parse_deploy(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);
/* deploy.autoscale into a qv_autoscale (autoscale.c). */
bool mf_parse_autoscale(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);
bool mf_parse_cluster(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target);

/* ---------------------------------------------------------------- strategy.c */

/* deploy.strategy: a strategy's name or a mapping of its settings. */
bool mf_parse_deploy_strategy(mf_ctx *ctx, yaml_node_t *value, const char *key, qv_strategy *s);

/* ---------------------------------------------------------------- health_check.c */

/* deploy.health_check and cluster.load_balancer.health_check into a
 * qv_health_check (the `key` of mf_key_parser is the key path). */
bool mf_parse_deploy_health_check(mf_ctx *ctx, yaml_node_t *value, const char *key,
                                  qv_health_check *check);
bool mf_parse_balancer_health_check(mf_ctx *ctx, yaml_node_t *value, const char *key,
                                    qv_health_check *check);
/* Once the whole manifest is read: deploy.health_check takes what it does
 * not say from the balancer's check, then its timeout is checked against
 * its interval. */
bool mf_finish_health_checks(mf_ctx *ctx, const yaml_node_t *root, qv_manifest *m);

#endif
