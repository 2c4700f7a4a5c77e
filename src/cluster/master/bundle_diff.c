/*
 * bundle_diff.c — what a new revision changes in its bundle, in words for
 * the rollout history: the files added, removed or changed, and for the
 * manifest the keys whose values differ ("env.MODE", "deploy.replicas").
 * Both bundles are unpacked folders the master checked already (their
 * manifests load), so the YAML is read as it is, without the manifest
 * parser's checks.
 */
#include "cluster/master/bundle_diff.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* At most this many names in each list; then "and N more". */
#define LIST_MAX 6

typedef struct words {
    char *out;
    size_t n, used;
} words;

__attribute__((format(printf, 2, 3))) static void say(words *w, const char *fmt, ...)
{
    if (w->used >= w->n) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(w->out + w->used, w->n - w->used, fmt, ap);
    va_end(ap);
    if (k > 0) w->used += (size_t)k;
}

/* Every regular file below dir (paths relative to it) into files:
 * {"PATH": size}. */
static void list_files(const char *root, const char *rel, json_t *files, int depth)
{
    char path[2048];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = depth < 32 ? opendir(path) : NULL;
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[1024], full[3100];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (lstat(full, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) list_files(root, sub, files, depth + 1);
        else if (S_ISREG(st.st_mode)) json_object_set_new(files, sub, json_integer((json_int_t)st.st_size));
    }
    closedir(d);
}

static bool same_bytes(const char *a, const char *b)
{
    enum { CHUNK = 65536 };
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    char *ba = malloc(CHUNK), *bb = malloc(CHUNK);
    bool same = fa && fb && ba && bb;
    while (same) {
        size_t na = fread(ba, 1, CHUNK, fa), nb = fread(bb, 1, CHUNK, fb);
        same = na == nb && !memcmp(ba, bb, na);
        if (na < CHUNK) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    free(ba), free(bb);
    return same;
}

/* The scalars of a YAML node, by key path, into flat: {"deploy.replicas":"3"}. */
static void flatten(yaml_document_t *doc, yaml_node_t *node, const char *path, json_t *flat, int depth)
{
    if (!node || depth > 32) return;
    char sub[512];
    if (node->type == YAML_SCALAR_NODE) {
        json_object_set_new(flat, *path ? path : "(document)",
                            json_stringn((const char *)node->data.scalar.value, node->data.scalar.length));
    } else if (node->type == YAML_SEQUENCE_NODE) {
        size_t i = 0;
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++, i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            flatten(doc, yaml_document_get_node(doc, *it), sub, flat, depth + 1);
        }
        if (!i) json_object_set_new(flat, path, json_string("[]"));
    } else if (node->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) continue;
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", (const char *)k->data.scalar.value);
            flatten(doc, yaml_document_get_node(doc, p->value), sub, flat, depth + 1);
        }
    }
}

static json_t *manifest_keys(const char *file)
{
    json_t *flat = json_object();
    FILE *f = fopen(file, "rb");
    if (!f) return flat;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (yaml_parser_initialize(&parser)) {
        yaml_parser_set_input_file(&parser, f);
        if (yaml_parser_load(&parser, &doc)) {
            flatten(&doc, yaml_document_get_root_node(&doc), "", flat, 0);
            yaml_document_delete(&doc);
        }
        yaml_parser_delete(&parser);
    }
    fclose(f);
    return flat;
}

/* "what: a, b, c and 3 more" for the names in list. */
static void say_list(words *w, const char *what, json_t *list)
{
    size_t n = json_array_size(list);
    if (!n) return;
    say(w, "%s%s: ", w->used ? "; " : "", what);
    for (size_t i = 0; i < n && i < LIST_MAX; i++)
        say(w, "%s%s", i ? ", " : "", json_string_value(json_array_get(list, i)));
    if (n > LIST_MAX) say(w, " and %zu more", n - LIST_MAX);
}

/* The keys of a and b whose values differ (or that only one has). */
static json_t *changed_keys(json_t *a, json_t *b)
{
    json_t *list = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) if (!json_equal(v, json_object_get(b, key))) json_array_append_new(list, json_string(key));
    json_object_foreach(b, key, v) if (!json_object_get(a, key)) json_array_append_new(list, json_string(key));
    return list;
}

void bundle_diff(const char *old_dir, const char *old_manifest, const char *new_dir, const char *new_manifest,
                 char *out, size_t n)
{
    words w = {out, n, 0};
    out[0] = '\0';
    json_t *before = json_object(), *after = json_object();
    list_files(old_dir, "", before, 0);
    list_files(new_dir, "", after, 0);
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    const char *path;
    json_t *v;
    json_object_foreach(after, path, v) {
        json_t *was = json_object_get(before, path);
        char a[3100], b[3100];
        snprintf(a, sizeof a, "%s/%s", old_dir, path);
        snprintf(b, sizeof b, "%s/%s", new_dir, path);
        if (!was) json_array_append_new(added, json_string(path));
        else if (!json_equal(was, v) || !same_bytes(a, b)) json_array_append_new(changed, json_string(path));
    }
    json_object_foreach(before, path, v) if (!json_object_get(after, path)) json_array_append_new(removed, json_string(path));
    say_list(&w, "changed", changed);
    say_list(&w, "added", added);
    say_list(&w, "removed", removed);
    char a[3100], b[3100];
    snprintf(a, sizeof a, "%s/%s", old_dir, old_manifest);
    snprintf(b, sizeof b, "%s/%s", new_dir, new_manifest);
    json_t *ka = manifest_keys(a), *kb = manifest_keys(b), *keys = changed_keys(ka, kb);
    say_list(&w, "manifest keys", keys);
    json_decref(ka), json_decref(kb), json_decref(keys);
    json_decref(before), json_decref(after), json_decref(added), json_decref(removed), json_decref(changed);
}
