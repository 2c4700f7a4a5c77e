/*
 * mapping.c — reading a YAML mapping as one section of the format: every
 * key must be known to the section and appear once. An unknown key gets
 * the most helpful hint available: the key it is probably a typo of, the
 * section it belongs in, or the list of keys the section accepts.
 */
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "suggest.h"

static const mf_section *const all_sections[] = {
    &mf_section_top,    &mf_section_permissions, &mf_section_fs_paths,
    &mf_section_net,    &mf_section_fs,          &mf_section_deploy,
    &mf_section_resources, &mf_section_health_check, &mf_section_cluster,
    &mf_section_load_balancer, &mf_section_balancer_health_check, &mf_section_autoscale,
};

void mf_key_path(char *buf, size_t size, const char *parent, const char *key)
{
    if (parent[0] == '\0') snprintf(buf, size, "%s", key);
    else snprintf(buf, size, "%s.%s", parent, key);
}

static const mf_key *find_key(const mf_section *section, const char *name)
{
    for (size_t i = 0; i < section->key_count; i++)
        if (strcmp(section->keys[i].name, name) == 0) return &section->keys[i];
    return NULL;
}

/* The closest key or alias of the section, as the key to write. */
static const char *suggest_key(const mf_section *section, const char *name)
{
    const char *candidates[32];
    size_t n = 0;
    for (size_t i = 0; i < section->key_count && n < 32; i++) candidates[n++] = section->keys[i].name;
    for (size_t i = 0; i < section->alias_count && n < 32; i++)
        candidates[n++] = section->aliases[i].alias;
    const char *guess = mf_suggest(name, candidates, n);
    for (size_t i = 0; guess && i < section->alias_count; i++)
        if (guess == section->aliases[i].alias) return section->aliases[i].key;
    return guess;
}

/* The other sections that have this key: fills homes[0..1] and returns
 * how many there are (3 when more than two). */
static size_t homes_of(const mf_section *here, const char *name, const mf_section *homes[2])
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof all_sections / sizeof *all_sections; i++) {
        if (all_sections[i] == here || !find_key(all_sections[i], name)) continue;
        if (n == 2) return 3;
        homes[n++] = all_sections[i];
    }
    return n;
}

/* "in 'deploy'" or "at the top level". */
static void describe_home(char *buf, size_t size, const mf_section *home)
{
    if (home->path[0]) snprintf(buf, size, "in '%s'", home->path);
    else snprintf(buf, size, "at the top level");
}

static bool unknown_key(mf_ctx *ctx, const yaml_node_t *key_node, const mf_section *section)
{
    char q[MF_QUOTE_SIZE], where[MF_KEY_PATH_SIZE + 8] = "";
    const char *name = mf_text(key_node);
    mf_quote(name, key_node->data.scalar.length, q, sizeof q);
    if (section->path[0]) snprintf(where, sizeof where, " in '%s'", section->path);

    const char *guess = suggest_key(section, name);
    if (guess) return mf_fail(ctx, key_node, "unknown key '%s'%s; did you mean '%s'?", q, where, guess);

    const mf_section *homes[2];
    size_t nhomes = homes_of(section, name, homes);
    if (nhomes == 1 || nhomes == 2) {
        char first[MF_KEY_PATH_SIZE + 16], second[MF_KEY_PATH_SIZE + 16];
        describe_home(first, sizeof first, homes[0]);
        if (nhomes == 1) return mf_fail(ctx, key_node, "unknown key '%s'%s; it belongs %s", q, where, first);
        describe_home(second, sizeof second, homes[1]);
        return mf_fail(ctx, key_node, "unknown key '%s'%s; it belongs %s or %s", q, where, first, second);
    }

    char expected[256];
    size_t used = 0;
    expected[0] = '\0';
    for (size_t i = 0; i < section->key_count && used < sizeof expected; i++) {
        int n = snprintf(expected + used, sizeof expected - used, "%s%s", i ? ", " : "",
                         section->keys[i].name);
        if (n < 0) break;
        used += (size_t)n;
    }
    return mf_fail(ctx, key_node, "unknown key '%s'%s; expected one of: %s", q, where, expected);
}

yaml_node_t *mf_map_get(const mf_ctx *ctx, const yaml_node_t *map, const char *name)
{
    if (map->type != YAML_MAPPING_NODE) return NULL;
    for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *key = mf_node(ctx, p->key);
        if (key->type == YAML_SCALAR_NODE && strcmp(mf_text(key), name) == 0)
            return mf_node(ctx, p->value);
    }
    return NULL;
}

static bool wrong_type(mf_ctx *ctx, const yaml_node_t *node, const mf_section *section)
{
    if (section->path[0] == '\0')
        return mf_fail(ctx, node,
                       "the manifest must be a map of keys such as 'name:' and 'entrypoint:', not %s",
                       mf_kind(node));
    if (mf_is_null(node))
        return mf_fail(ctx, node, "'%s' has no value; expected a map of keys", section->path);
    return mf_fail(ctx, node, "'%s' must be a map of keys, not %s", section->path, mf_kind(node));
}

bool mf_read_mapping(mf_ctx *ctx, const yaml_node_t *node, const mf_section *section, void *target)
{
    if (node->type != YAML_MAPPING_NODE) return wrong_type(ctx, node, section);
    const yaml_node_pair_t *pairs = node->data.mapping.pairs.start;
    size_t count = (size_t)(node->data.mapping.pairs.top - pairs);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *key_node = mf_node(ctx, pairs[i].key);
        if (key_node->type != YAML_SCALAR_NODE || mf_is_null(key_node))
            return mf_fail(ctx, key_node, "a key must be a string, not %s", mf_kind(key_node));
        const char *name = mf_text(key_node);
        if (strlen(name) != key_node->data.scalar.length)
            return mf_fail(ctx, key_node, "a key contains a NUL character");
        if (strcmp(name, "<<") == 0 && key_node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return mf_fail(ctx, key_node, "YAML merge keys ('<<') are not supported; write the keys out");
        for (size_t j = 0; j < i; j++) {
            const yaml_node_t *earlier = mf_node(ctx, pairs[j].key);
            if (strcmp(mf_text(earlier), name) == 0)
                return mf_fail(ctx, key_node, "duplicate key '%s'; it is already set at line %zu, column %zu",
                               name, earlier->start_mark.line + 1, earlier->start_mark.column + 1);
        }
        const mf_key *key = find_key(section, name);
        if (!key) return unknown_key(ctx, key_node, section);
        char path[MF_KEY_PATH_SIZE];
        mf_key_path(path, sizeof path, section->path, name);
        if (!key->parse(ctx, mf_node(ctx, pairs[i].value), path, target)) return false;
    }
    return true;
}
