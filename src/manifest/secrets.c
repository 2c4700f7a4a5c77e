/*
 * secrets.c — how a manifest refers to the cluster's secrets
 * (docs/manifest.md, "Secrets"): an env value written `{secret: NAME}`,
 * and the top-level `secrets` list of `{name: NAME, path: /secrets/FILE}`,
 * each secret a read-only file in the guest. Only names are written here;
 * the values come from the cluster when it runs the app.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_secret_name(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    char **name = target;
    return mf_read_string(ctx, value, key, name) && mf_check_name(ctx, value, key, *name);
}

static const mf_key env_secret_keys[] = {{"secret", parse_secret_name}};
static const mf_alias env_secret_aliases[] = {{"secretKeyRef", "secret"}, {"valueFrom", "secret"},
                                              {"name", "secret"}};

bool mf_read_env_secret(mf_ctx *ctx, const yaml_node_t *node, const char *key, char **secret)
{
    const mf_section section = {key, env_secret_keys, COUNT(env_secret_keys), env_secret_aliases,
                                COUNT(env_secret_aliases)};
    if (!mf_read_mapping(ctx, node, &section, secret)) return false;
    if (!*secret)
        return mf_fail(ctx, node, "'%s' must be a string, or {secret: NAME} to take the value of a cluster secret",
                       key);
    return true;
}

/* A secret file's guest path: absolute, plain segments, outside /app, and
 * in a folder of its own (the folder is what the guest is given). */
static bool parse_secret_path(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_secret_file *f = target;
    f->at = mf_pos(value);
    if (!mf_read_string(ctx, value, key, &f->path) || !mf_check_url_path(ctx, value, key, f->path)) return false;
    const char *p = f->path;
    if (!strncmp(p, "/app", 4) && (p[4] == '/' || !p[4]))
        return mf_fail(ctx, value, "'%s' must be outside /app (the app's folder), e.g. /secrets/db, got '%s'", key, p);
    if (strrchr(p, '/') == p)
        return mf_fail(ctx, value, "'%s' must name a file in a folder, e.g. /secrets/db (the folder is given to the "
                                   "guest read-only), got '%s'", key, p);
    return true;
}

static bool parse_file_name(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_secret_file *f = target;
    return parse_secret_name(ctx, value, key, &f->name);
}

static const mf_key file_keys[] = {{"name", parse_file_name}, {"path", parse_secret_path}};
static const mf_alias file_aliases[] = {{"secret", "name"}, {"secretName", "name"}, {"mountPath", "path"},
                                        {"file", "path"}};

/* Is the folder of a the path b, or is b under it as a file of a folder
 * named like a file of ours? Either way the two cannot both be given. */
static bool clash(const char *a, const char *b)
{
    size_t n = strlen(a);
    return !strncmp(a, b, n) && b[n] == '/';
}

bool mf_parse_secrets(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    if (value->type != YAML_SEQUENCE_NODE)
        return mf_fail(ctx, value, "'%s' must be a list of {name: SECRET, path: /secrets/FILE}, not %s", key,
                       mf_kind(value));
    yaml_node_item_t *items = value->data.sequence.items.start;
    size_t count = (size_t)(value->data.sequence.items.top - items);
    if (!mf_check_count(ctx, value, key, count, "items")) return false;
    m->secret_files = calloc(count ? count : 1, sizeof *m->secret_files);
    if (!m->secret_files) return mf_fail(ctx, value, "out of memory");
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = mf_node(ctx, items[i]);
        qv_secret_file *f = &m->secret_files[m->secret_file_count++];
        char path[MF_KEY_PATH_SIZE];
        snprintf(path, sizeof path, "%s[%zu]", key, i);
        const mf_section section = {path, file_keys, COUNT(file_keys), file_aliases, COUNT(file_aliases)};
        if (item->type != YAML_MAPPING_NODE)
            return mf_fail(ctx, item, "'%s' must be {name: SECRET, path: /secrets/FILE}, not %s", path,
                           mf_kind(item));
        if (!mf_read_mapping(ctx, item, &section, f)) return false;
        if (!f->name || !f->path)
            return mf_fail(ctx, item, "'%s' needs both 'name' (the secret) and 'path' (its file in the guest, e.g. "
                                      "/secrets/%s)", path, f->name ? f->name : "db");
        for (size_t j = 0; j < i; j++) {
            const qv_secret_file *o = &m->secret_files[j];
            if (!strcmp(o->path, f->path) || clash(o->path, f->path) || clash(f->path, o->path))
                return mf_fail(ctx, item, "'%s': the path %s clashes with %s (line %u, column %u)", path, f->path,
                               o->path, o->at.line, o->at.column);
        }
    }
    return true;
}

bool qv_manifest_uses_secrets(const qv_manifest *m)
{
    for (size_t i = 0; i < m->env.count; i++)
        if (m->env.vars[i].secret) return true;
    return m->secret_file_count > 0;
}
