/*
 * top_level.c — the keys at the top of a manifest: what the app is (name,
 * entrypoint, runtime, language, type), how it is started (args, env,
 * route, timeout), and the nested sections, read by their own files.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_name(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    return mf_read_string(ctx, value, key, &m->name) && mf_check_name(ctx, value, key, m->name);
}

static bool parse_entrypoint(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    m->entrypoint_at = mf_pos(value);
    return mf_read_string(ctx, value, key, &m->entrypoint) &&
           mf_check_entrypoint(ctx, value, key, m->entrypoint);
}

static bool parse_runtime(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    int runtime;
    m->runtime_at = mf_pos(value);
    if (!mf_read_enum(ctx, value, key, mf_runtime_names, COUNT(mf_runtime_names), &runtime))
        return false;
    m->runtime = (qv_runtime)runtime;
    return true;
}

static bool parse_language(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    if (!mf_read_string(ctx, value, key, &m->language)) return false;
    if (m->language[0] == '\0')
        return mf_fail(ctx, value, "'%s' is empty; name the source language (e.g. rust) or remove the key", key);
    return true;
}

static bool parse_type(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    int type;
    if (!mf_read_enum(ctx, value, key, mf_app_type_names, COUNT(mf_app_type_names), &type))
        return false;
    m->type = (qv_app_type)type;
    return true;
}

static bool parse_args(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    return mf_read_string_list(ctx, value, key, NULL, NULL, &m->args);
}

/* env is a mapping with names chosen by the user, so it is read here
 * rather than through a section table; the order is kept because a later
 * variable may be meant to refer to an earlier one. */
static bool parse_env(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    if (value->type != YAML_MAPPING_NODE) {
        if (mf_is_null(value)) return mf_fail(ctx, value, "'%s' has no value; expected a map of NAME: value", key);
        return mf_fail(ctx, value, "'%s' must be a map of NAME: value, not %s", key, mf_kind(value));
    }
    const yaml_node_pair_t *pairs = value->data.mapping.pairs.start;
    size_t count = (size_t)(value->data.mapping.pairs.top - pairs);
    /* The cap also keeps the duplicate search below cheap. */
    if (!mf_check_count(ctx, value, key, count, "variables")) return false;
    m->env.vars = calloc(count ? count : 1, sizeof *m->env.vars);
    if (!m->env.vars) return mf_fail(ctx, value, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *name_node = mf_node(ctx, pairs[i].key);
        qv_env_var *var = &m->env.vars[m->env.count++];
        if (name_node->type != YAML_SCALAR_NODE || mf_is_null(name_node))
            return mf_fail(ctx, name_node, "a variable name in '%s' must be a string, not %s", key,
                           mf_kind(name_node));
        if (!mf_read_string(ctx, name_node, key, &var->name) ||
            !mf_check_env_name(ctx, name_node, key, var->name))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->env.vars[j].name, var->name) == 0) {
                const yaml_node_t *first = mf_node(ctx, pairs[j].key);
                return mf_fail(ctx, name_node,
                               "duplicate variable '%s' in '%s'; it is already set at line %zu, "
                               "column %zu",
                               var->name, key, first->start_mark.line + 1, first->start_mark.column + 1);
            }
        }
        char var_key[MF_KEY_PATH_SIZE];
        mf_key_path(var_key, sizeof var_key, key, var->name);
        yaml_node_t *v = mf_node(ctx, pairs[i].value);
        var->at = mf_pos(v);
        if (v->type == YAML_MAPPING_NODE) { /* {secret: NAME} (secrets.c) */
            if (!mf_read_env_secret(ctx, v, var_key, &var->secret)) return false;
        } else if (!mf_read_string(ctx, v, var_key, &var->value)) {
            return false;
        }
    }
    return true;
}

static bool parse_route(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    return mf_read_string(ctx, value, key, &m->route) && mf_check_url_path(ctx, value, key, m->route);
}

static bool parse_timeout(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_manifest *m = target;
    if (!mf_read_duration(ctx, value, key, &m->timeout_ms)) return false;
    if (m->timeout_ms == 0) return mf_fail(ctx, value, "'%s' must be longer than 0", key);
    return true;
}

static const mf_key top_keys[] = {
    {"name", parse_name},
    {"entrypoint", parse_entrypoint},
    {"runtime", parse_runtime},
    {"language", parse_language},
    {"type", parse_type},
    {"args", parse_args},
    {"env", parse_env},
    {"route", parse_route},
    {"timeout", parse_timeout},
    {"permissions", mf_parse_permissions},
    {"fs", mf_parse_fs},
    {"deploy", mf_parse_deploy},
    {"cluster", mf_parse_cluster},
    {"secrets", mf_parse_secrets},
};

static const mf_alias top_aliases[] = {
    {"environment", "env"},  {"environ", "env"},       {"arguments", "args"},
    {"argv", "args"},        {"entry", "entrypoint"},  {"main", "entrypoint"},
    {"module", "entrypoint"}, {"wasm", "entrypoint"},  {"lang", "language"},
    {"kind", "type"},        {"perms", "permissions"}, {"filesystem", "fs"},
    {"deployment", "deploy"}, {"path", "route"},
};

const mf_section mf_section_top = {"", top_keys, COUNT(top_keys), top_aliases, COUNT(top_aliases)};

bool mf_read_top_level(mf_ctx *ctx, const yaml_node_t *root, qv_manifest *m)
{
    return mf_read_mapping(ctx, root, &mf_section_top, m);
}
