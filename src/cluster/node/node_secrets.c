/*
 * node_secrets.c — secrets as env values and read-only files for the
 * apps a node runs (node_secrets.h).
 */
#include "cluster/node/node_secrets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/secret_box.h"
#include "manifest/manifest.h"

static char root[600];
static pid_t root_owner;
/* The values last sent for each (app, bundle, manifest, versions), by the
 * hash that names it, and those used since the last sweep. A version never
 * changes, so when a master cannot send a value it sent before (a master
 * without the key, after a failover) the app keeps running with it. */
static json_t *cache, *used;

/* The node's private folder, made at first need. */
static bool ensure_root(char *why, size_t whylen)
{
    if (root[0]) return true;
    const char *run = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                           ? "/dev/shm"
                           : run && *run ? run : "/tmp";
    snprintf(root, sizeof root, "%s/qyvol-secrets-XXXXXX", base);
    if (!mkdtemp(root)) { /* mkdtemp makes it 0700 */
        snprintf(why, whylen, "cannot make a folder for secrets in %s: %s", base, strerror(errno));
        root[0] = 0;
        return false;
    }
    root_owner = getpid();
    return true;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1200];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (e->d_type == DT_DIR) remove_tree(sub);
            else unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static bool write_secret_file(const char *path, const uint8_t *data, size_t len, char *why, size_t whylen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int e = errno;
    if (fd >= 0) close(fd);
    if (fd < 0 || done < len) {
        snprintf(why, whylen, "cannot write the secret file %s: %s", path, strerror(e));
        return false;
    }
    return true;
}

/* The value the master sent for name, decoded; NULL with why. */
static uint8_t *value_of(json_t *secrets, const char *app, const char *name, size_t *len, char *why, size_t whylen)
{
    const char *b64 = json_string_value(json_object_get(json_object_get(secrets, name), "value"));
    uint8_t *v = b64 ? secret_base64_decode(b64, len) : NULL;
    if (!v)
        snprintf(why, whylen, "%s: the master did not send the secret '%s' (see its log: removed, or sealed with "
                 "another key)", app, name);
    return v;
}

static bool push(char ***list, size_t *n, char *s)
{
    char **grown = s ? realloc(*list, (*n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(s);
        return false;
    }
    *list = grown;
    grown[(*n)++] = s;
    return true;
}

/* Write the files of m into dir (made here): one sub-folder per guest
 * folder, in out's mounts. */
static bool write_files(const qv_manifest *m, json_t *secrets, const char *app, const char *dir,
                        node_secret_use *out, char *why, size_t whylen)
{
    if (mkdir(dir, 0700) != 0) {
        snprintf(why, whylen, "cannot make %s: %s", dir, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < m->secret_file_count; i++) {
        const qv_secret_file *f = &m->secret_files[i];
        const char *slash = strrchr(f->path, '/');
        char guest[600];
        snprintf(guest, sizeof guest, "%.*s", (int)(slash - f->path), f->path);
        size_t k = 0;
        while (k < out->nmounts && strcmp(out->guest[k], guest)) k++;
        char sub[1000], file[1700];
        snprintf(sub, sizeof sub, "%s/%zu", dir, k);
        if (k == out->nmounts) {
            if (mkdir(sub, 0700) != 0) {
                snprintf(why, whylen, "cannot make %s: %s", sub, strerror(errno));
                return false;
            }
            if (!push(&out->guest, &out->nmounts, strdup(guest))) goto nomem;
            out->nmounts--;
            if (!push(&out->host, &out->nmounts, strdup(sub))) goto nomem;
        }
        size_t len;
        uint8_t *v = value_of(secrets, app, f->name, &len, why, whylen);
        if (!v) return false;
        snprintf(file, sizeof file, "%s%s", sub, slash);
        bool ok = write_secret_file(file, v, len, why, whylen);
        OPENSSL_cleanse(v, len);
        free(v);
        if (!ok) return false;
    }
    return true;
nomem:
    snprintf(why, whylen, "out of memory");
    return false;
}

/* The mounts of an existing folder, as write_files made them. */
static bool mounts_of(const qv_manifest *m, const char *dir, node_secret_use *out)
{
    for (size_t i = 0; i < m->secret_file_count; i++) {
        const char *path = m->secret_files[i].path, *slash = strrchr(path, '/');
        char guest[600], sub[900];
        snprintf(guest, sizeof guest, "%.*s", (int)(slash - path), path);
        size_t k = 0;
        while (k < out->nmounts && strcmp(out->guest[k], guest)) k++;
        if (k < out->nmounts) continue;
        snprintf(sub, sizeof sub, "%s/%zu", dir, k);
        if (!push(&out->guest, &out->nmounts, strdup(guest))) return false;
        out->nmounts--;
        if (!push(&out->host, &out->nmounts, strdup(sub))) return false;
    }
    return true;
}

bool node_secrets_resolve(json_t *j, const char *manifest_path, node_secret_use *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    json_t *secrets = json_object_get(j, "secrets");
    const char *app = json_string_value(json_object_get(j, "app"));
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_load(manifest_path, &err);
    if (!m) {
        snprintf(why, whylen, "%s", err.message);
        return false;
    }
    /* One folder per (app, bundle, manifest, versions): its content never
     * changes, so it is written once (and the values can be cached). */
    char *pins = json_dumps(json_object_get(json_object_get(j, "overrides"), "secret_versions"),
                            JSON_COMPACT | JSON_SORT_KEYS);
    char ident[2048], hash[65];
    snprintf(ident, sizeof ident, "%s\n%s\n%s\n%s", app, json_string_value(json_object_get(j, "digest")),
             manifest_path, pins ? pins : "");
    free(pins);
    secret_sha256_hex(ident, strlen(ident), hash);
    hash[16] = 0;
    if (!cache) cache = json_object(), used = json_object();
    bool complete = true;
    for (size_t i = 0; i < m->env.count + m->secret_file_count; i++) {
        const char *name = i < m->env.count ? m->env.vars[i].secret : m->secret_files[i - m->env.count].name;
        if (name && !json_string_value(json_object_get(json_object_get(secrets, name), "value"))) complete = false;
    }
    if (complete) json_object_set(cache, hash, secrets);
    else if (json_object_get(cache, hash)) secrets = json_object_get(cache, hash);
    json_object_set_new(used, hash, json_true());
    bool ok = true;
    for (size_t i = 0; ok && i < m->env.count; i++) {
        const qv_env_var *var = &m->env.vars[i];
        if (!var->secret) continue;
        size_t len;
        uint8_t *v = value_of(secrets, app, var->secret, &len, why, whylen);
        if (!(ok = v != NULL)) break;
        char *kv = NULL;
        if (memchr(v, 0, len)) {
            snprintf(why, whylen, "%s: the secret '%s' holds a NUL byte, which an environment variable cannot; give "
                     "it as a file (secrets:)", app, var->secret);
            ok = false;
        } else if (asprintf(&kv, "%s=%s", var->name, (const char *)v) < 0 || !push(&out->env, &out->nenv, kv)) {
            snprintf(why, whylen, "out of memory");
            ok = false;
        }
        OPENSSL_cleanse(v, len);
        free(v);
    }
    if (ok && m->secret_file_count) {
        char dir[800], tmp[900];
        ok = ensure_root(why, whylen);
        if (ok) {
            snprintf(dir, sizeof dir, "%s/%s-%.16s", root, app, hash);
            struct stat st;
            if (stat(dir, &st) == 0) {
                utimensat(AT_FDCWD, dir, NULL, 0); /* in use: not swept */
                ok = mounts_of(m, dir, out);
                if (!ok) snprintf(why, whylen, "out of memory");
            } else {
                snprintf(tmp, sizeof tmp, "%s/.new-%s-%.16s", root, app, hash);
                remove_tree(tmp);
                ok = write_files(m, secrets, app, tmp, out, why, whylen);
                if (ok && rename(tmp, dir) != 0) {
                    snprintf(why, whylen, "cannot move %s in place: %s", tmp, strerror(errno));
                    ok = false;
                }
                if (!ok) remove_tree(tmp);
                /* The mounts name the folder's final place. */
                for (size_t i = 0; ok && i < out->nmounts; i++) {
                    char *fixed = NULL;
                    if (asprintf(&fixed, "%s%s", dir, out->host[i] + strlen(tmp)) < 0) ok = false;
                    else free(out->host[i]), out->host[i] = fixed;
                }
            }
        }
    }
    qv_manifest_free(m);
    if (!ok) node_secret_use_free(out);
    return ok;
}

void node_secret_use_free(node_secret_use *u)
{
    for (size_t i = 0; i < u->nenv; i++) {
        OPENSSL_cleanse(u->env[i], strlen(u->env[i]));
        free(u->env[i]);
    }
    for (size_t i = 0; i < u->nmounts; i++) free(u->host[i]), free(u->guest[i]);
    free(u->env);
    free(u->host);
    free(u->guest);
    memset(u, 0, sizeof *u);
}

void node_secrets_sweep(void)
{
    const char *k;
    json_t *v, *t;
    json_object_foreach_safe(cache, t, k, v) if (!json_object_get(used, k)) json_object_del(cache, k);
    json_object_clear(used);
    if (!root[0]) return;
    DIR *d = opendir(root);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (stat(path, &st) == 0 && now - st.st_mtime > NODE_SECRETS_KEEP_S) remove_tree(path);
    }
    closedir(d);
}

void node_secrets_cleanup(void)
{
    json_decref(cache);
    json_decref(used);
    cache = used = NULL;
    /* Only the node itself: a replica (a fork) must not. */
    if (root[0] && getpid() == root_owner) remove_tree(root);
    root[0] = 0;
}
