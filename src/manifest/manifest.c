/*
 * manifest.c — freeing a manifest, and the spelling of its enum values
 * (shared with the parser so the two cannot disagree).
 */
#include <stdlib.h>

#include "parse.h"

const char *const mf_runtime_names[3] = {"wasi", "wasip1", "wasip2"};
const char *const mf_app_type_names[2] = {"cli", "http"};
const char *const mf_fs_access_names[4] = {"none", "read", "write", "read-write"};
const char *const mf_fs_type_names[2] = {"diskfs", "memfs"};
const char *const mf_lb_algorithm_names[3] = {"round_robin", "least_connections", "weighted"};

#define NAME_OF(table, value) \
    ((size_t)(value) < sizeof(table) / sizeof *(table) ? (table)[value] : "?")

const char *qv_runtime_name(qv_runtime runtime) { return NAME_OF(mf_runtime_names, runtime); }
const char *qv_app_type_name(qv_app_type type) { return NAME_OF(mf_app_type_names, type); }
const char *qv_fs_type_name(qv_fs_type type) { return NAME_OF(mf_fs_type_names, type); }

const char *qv_fs_access_name(qv_fs_access access)
{
    return access == QV_FS_PATHS ? "paths" : NAME_OF(mf_fs_access_names, access);
}

const char *qv_lb_algorithm_name(qv_lb_algorithm algorithm)
{
    return NAME_OF(mf_lb_algorithm_names, algorithm);
}

void mf_string_list_free(qv_string_list *list)
{
    for (size_t i = 0; i < list->count; i++) free(list->items[i]);
    free(list->items);
    free(list->at);
    list->items = NULL;
    list->at = NULL;
    list->count = 0;
}

void qv_manifest_free(qv_manifest *m)
{
    if (!m) return;
    free(m->file);
    free(m->dir);
    free(m->name);
    free(m->entrypoint);
    free(m->entrypoint_path);
    free(m->language);
    mf_string_list_free(&m->args);
    for (size_t i = 0; i < m->env.count; i++) {
        free(m->env.vars[i].name);
        free(m->env.vars[i].value);
        free(m->env.vars[i].secret);
    }
    free(m->env.vars);
    for (size_t i = 0; i < m->secret_file_count; i++) {
        free(m->secret_files[i].name);
        free(m->secret_files[i].path);
    }
    free(m->secret_files);
    free(m->route);
    mf_string_list_free(&m->permissions.fs.read);
    mf_string_list_free(&m->permissions.fs.write);
    mf_string_list_free(&m->permissions.fs.exclude);
    mf_string_list_free(&m->permissions.net.allowed_hosts);
    free(m->permissions.net.allowed_ports);
    free(m->fs.source);
    free(m->fs.source_path);
    free(m->deploy.health_check.path);
    free(m);
}
