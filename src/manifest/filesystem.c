/*
 * filesystem.c — the top-level `fs` key: what the guest's /app is made of,
 * a host directory (diskfs) or private scratch space in memory (memfs).
 * Who may read or write it is `permissions.fs` (permissions.c).
 */
#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_type(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_fs_mount *fs = target;
    int type;
    if (!mf_read_enum(ctx, value, key, mf_fs_type_names, COUNT(mf_fs_type_names), &type)) return false;
    fs->type = (qv_fs_type)type;
    return true;
}

static bool parse_source(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_fs_mount *fs = target;
    fs->source_at = mf_pos(value);
    return mf_read_string(ctx, value, key, &fs->source) &&
           mf_check_relative_path(ctx, value, key, fs->source);
}

static const mf_key fs_keys[] = {
    {"type", parse_type},
    {"source", parse_source},
};
static const mf_alias fs_aliases[] = {
    {"kind", "type"}, {"path", "source"}, {"dir", "source"}, {"directory", "source"},
};
const mf_section mf_section_fs = {"fs", fs_keys, COUNT(fs_keys), fs_aliases, COUNT(fs_aliases)};

bool mf_parse_fs(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    qv_manifest *m = target;
    return mf_read_mapping(ctx, value, &mf_section_fs, &m->fs);
}
