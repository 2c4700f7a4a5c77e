/*
 * permissions.c — `permissions`: what the guest may touch. fs is a level
 * for the whole app folder or a map of guest paths, net is a boolean or a
 * map of allowed hosts and ports, and exec can only be false.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_read_paths(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_fs_permission *fs = target;
    return mf_read_string_list(ctx, value, key, mf_check_guest_path, NULL, &fs->read);
}

static bool parse_write_paths(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_fs_permission *fs = target;
    return mf_read_string_list(ctx, value, key, mf_check_guest_path, NULL, &fs->write);
}

static bool parse_exclude_paths(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_fs_permission *fs = target;
    return mf_read_string_list(ctx, value, key, mf_check_guest_path, NULL, &fs->exclude);
}

static const mf_key fs_path_keys[] = {
    {"read", parse_read_paths},
    {"write", parse_write_paths},
    {"exclude", parse_exclude_paths},
};
static const mf_alias fs_path_aliases[] = {{"readonly", "read"}, {"deny", "exclude"}, {"hide", "exclude"}};
const mf_section mf_section_fs_paths = {"permissions.fs", fs_path_keys, COUNT(fs_path_keys),
                                        fs_path_aliases, COUNT(fs_path_aliases)};

/* path is strictly below dir ("/app/a/b" below "/app/a", not "/app/ab"). */
static bool is_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool is_below_any(const char *path, const qv_string_list *dirs)
{
    for (size_t i = 0; i < dirs->count; i++)
        if (is_below(path, dirs->items[i])) return true;
    return false;
}

/* The first path of dirs that is `path` or below it, or NULL. */
static const char *granted_within(const char *path, const qv_string_list *dirs)
{
    for (size_t i = 0; i < dirs->count; i++)
        if (strcmp(dirs->items[i], path) == 0 || is_below(dirs->items[i], path)) return dirs->items[i];
    return NULL;
}

/* An exclude hides what is below it inside a granted path. One that is a
 * granted path or above one would leave that grant visible (a grant is
 * never hidden whole): refused, as the user meant to hide it. One outside
 * every grant is already invisible, so it changes nothing: a warning, as
 * it is harmless but likely a typo or a misunderstanding. */
static bool check_excludes(mf_ctx *ctx, const yaml_node_t *map, const qv_fs_permission *fs)
{
    const yaml_node_t *list = mf_map_get(ctx, map, "exclude");
    for (size_t i = 0; i < fs->exclude.count; i++) {
        const char *path = fs->exclude.items[i];
        if (is_below_any(path, &fs->read) || is_below_any(path, &fs->write)) continue;
        const yaml_node_t *at = mf_node(ctx, list->data.sequence.items.start[i]);
        char q[MF_QUOTE_SIZE], g[MF_QUOTE_SIZE];
        mf_quote(path, strlen(path), q, sizeof q);
        const char *list_name = "read";
        const char *granted = granted_within(path, &fs->read);
        if (!granted) list_name = "write", granted = granted_within(path, &fs->write);
        if (granted && strcmp(path, granted) == 0)
            return mf_fail(ctx, at,
                           "'permissions.fs.exclude[%zu]' is '%s', which 'permissions.fs.%s' "
                           "grants; exclude hides paths strictly inside a granted one, so to hide "
                           "'%s' remove it from '%s'",
                           i, q, list_name, q, list_name);
        if (granted)
            return mf_fail(ctx, at,
                           "'permissions.fs.exclude[%zu]' is '%s', which holds '%s' granted by "
                           "'permissions.fs.%s'; exclude hides paths strictly inside a granted "
                           "one, so to hide '%s' remove it from '%s'",
                           i, q, mf_quote(granted, strlen(granted), g, sizeof g), list_name, g,
                           list_name);
        mf_warn(ctx, at,
                "'permissions.fs.exclude[%zu]' is '%s', which is not below any path in 'read' or "
                "'write': the guest cannot see it anyway, so this entry changes nothing",
                i, q);
    }
    return true;
}

static bool parse_fs(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_fs_permission *fs = &((qv_permissions *)target)->fs;
    if (value->type == YAML_MAPPING_NODE) {
        fs->access = QV_FS_PATHS;
        return mf_read_mapping(ctx, value, &mf_section_fs_paths, fs) &&
               check_excludes(ctx, value, fs);
    }
    if (value->type == YAML_SEQUENCE_NODE)
        return mf_fail(ctx, value,
                       "'%s' must be none, read, write, read-write or a map of 'read', 'write' "
                       "and 'exclude' paths, not a list",
                       key);
    int access;
    if (!mf_read_enum(ctx, value, key, mf_fs_access_names, COUNT(mf_fs_access_names), &access))
        return false;
    fs->access = (qv_fs_access)access;
    return true;
}

static bool parse_hosts(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_net_permission *net = target;
    return mf_read_string_list(ctx, value, key, mf_check_host,
                               "it would allow no host; write 'net: false' to deny the network",
                               &net->allowed_hosts);
}

static bool parse_ports(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_net_permission *net = target;
    if (value->type != YAML_SEQUENCE_NODE) {
        if (mf_is_null(value)) return mf_fail(ctx, value, "'%s' has no value; expected a list of ports", key);
        return mf_fail(ctx, value, "'%s' must be a list of ports, not %s", key, mf_kind(value));
    }
    const yaml_node_item_t *items = value->data.sequence.items.start;
    size_t count = (size_t)(value->data.sequence.items.top - items);
    if (count == 0)
        return mf_fail(ctx, value,
                       "'%s' is an empty list; it would allow no port; write 'net: false' to deny "
                       "the network",
                       key);
    if (!mf_check_count(ctx, value, key, count, "items")) return false;
    free(net->allowed_ports);
    net->allowed_port_count = 0;
    net->allowed_ports = calloc(count, sizeof *net->allowed_ports);
    if (!net->allowed_ports) return mf_fail(ctx, value, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char item_key[MF_KEY_PATH_SIZE + 24];
        uint64_t port;
        snprintf(item_key, sizeof item_key, "%s[%zu]", key, i);
        if (!mf_read_uint(ctx, mf_node(ctx, items[i]), item_key, 1, 65535, &port)) return false;
        net->allowed_ports[net->allowed_port_count++] = (uint16_t)port;
    }
    return true;
}

static bool parse_outbound_only(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_net_permission *net = target;
    return mf_read_bool(ctx, value, key, &net->outbound_only);
}

static const mf_key net_keys[] = {
    {"allowed_hosts", parse_hosts},
    {"allowed_ports", parse_ports},
    {"outbound_only", parse_outbound_only},
};
static const mf_alias net_aliases[] = {{"hosts", "allowed_hosts"}, {"ports", "allowed_ports"}};
const mf_section mf_section_net = {"permissions.net", net_keys, COUNT(net_keys), net_aliases,
                                   COUNT(net_aliases)};

static bool parse_net(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_net_permission *net = &((qv_permissions *)target)->net;
    if (value->type == YAML_MAPPING_NODE) {
        net->access = QV_NET_RESTRICTED;
        return mf_read_mapping(ctx, value, &mf_section_net, net);
    }
    bool allowed;
    if (!mf_read_bool(ctx, value, key, &allowed)) return false;
    net->access = allowed ? QV_NET_ANY : QV_NET_NONE;
    return true;
}

static bool parse_exec(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_permissions *permissions = target;
    if (!mf_read_bool(ctx, value, key, &permissions->exec)) return false;
    if (permissions->exec) {
        mf_fail(ctx, value,
                       "'%s: true' cannot be granted: WASI has no way to start a process, so a "
                       "WebAssembly app cannot run other programs; remove it or write 'exec: false'",
                       key);
        if (ctx->err) ctx->err->permission_refused = true;
        return false;
    }
    return true;
}

static const mf_key permission_keys[] = {
    {"fs", parse_fs},
    {"net", parse_net},
    {"exec", parse_exec},
};
static const mf_alias permission_aliases[] = {
    {"filesystem", "fs"}, {"network", "net"}, {"execute", "exec"}, {"process", "exec"},
};
const mf_section mf_section_permissions = {"permissions", permission_keys, COUNT(permission_keys),
                                           permission_aliases, COUNT(permission_aliases)};

bool mf_parse_permissions(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    qv_manifest *m = target;
    return mf_read_mapping(ctx, value, &mf_section_permissions, &m->permissions);
}
