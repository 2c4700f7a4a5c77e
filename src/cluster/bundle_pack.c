/*
 * bundle_pack.c — an app folder into a deterministic tar (bundle.h says
 * what goes in and how). First every path is collected and checked (each
 * resolved with realpath and required to lie inside the manifest's
 * folder), then the sorted list is written with libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle.h"
#include "manifest/manifest.h"

typedef struct pack_entry {
    char *path;     /* inside the bundle, relative, no trailing '/' */
    char *host;     /* the resolved host file; NULL for a folder */
    bool exec;      /* a file with an execute bit */
} pack_entry;

typedef struct packer {
    const char *file;           /* the manifest, for messages */
    char *root;                 /* realpath of the manifest's folder */
    pack_entry *entries;
    size_t n, cap;
    uint64_t bytes;             /* file content so far */
    char **excluded;            /* bundle paths left out */
    size_t nexcluded;
    struct { dev_t dev; ino_t ino; } walking[64]; /* folders on the walk, for loops */
    size_t depth;
    char *why;
    size_t whylen;
} packer;

static bool fail(packer *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(p->why, p->whylen, "%s: ", p->file);
    if (n >= 0 && (size_t)n < p->whylen) vsnprintf(p->why + n, p->whylen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static bool nomem(packer *p) { return fail(p, "out of memory"); }

/* "./a//b/" -> "a/b"; "." -> "". NULL (with why) for "..", absolute paths
 * or no memory: the manifest parser refuses those already, this keeps the
 * packer safe on its own. */
static char *normalize(packer *p, const char *rel)
{
    if (rel[0] == '/') return fail(p, "'%s' is an absolute path; paths stay inside the app folder", rel), NULL;
    char *out = malloc(strlen(rel) + 1);
    if (!out) return nomem(p), NULL;
    size_t o = 0;
    for (const char *s = rel; *s;) {
        size_t k = strcspn(s, "/");
        if (k == 2 && s[0] == '.' && s[1] == '.') {
            free(out);
            return fail(p, "'%s' has a '..' component; paths stay inside the app folder", rel), NULL;
        }
        if (k && !(k == 1 && s[0] == '.')) {
            if (o) out[o++] = '/';
            memcpy(out + o, s, k);
            o += k;
        }
        s += k;
        while (*s == '/') s++;
    }
    out[o] = 0;
    return out;
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 2);
    if (!s) return NULL;
    memcpy(s, a, na);
    size_t k = na;
    if (na && nb) s[k++] = '/';
    memcpy(s + k, b, nb + 1);
    return s;
}

static bool push(packer *p, char *path, char *host, bool exec)
{
    if (p->n == BUNDLE_MAX_ENTRIES) {
        free(path), free(host);
        return fail(p, "the app folder has more than %u entries to pack", BUNDLE_MAX_ENTRIES);
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        pack_entry *v = realloc(p->entries, cap * sizeof *v);
        if (!v) return free(path), free(host), nomem(p);
        p->entries = v, p->cap = cap;
    }
    p->entries[p->n++] = (pack_entry){path, host, exec};
    return true;
}

static bool is_excluded(const packer *p, const char *rel)
{
    for (size_t i = 0; i < p->nexcluded; i++)
        if (!strcmp(p->excluded[i], rel)) return true;
    return false;
}

static const char *kind_of(mode_t mode)
{
    return S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                                                                                                     : "not a file";
}

static bool add_path(packer *p, const char *rel, bool folder_ok);

/* A folder and everything below it (rel "" is the manifest's folder). */
static bool add_folder(packer *p, const char *rel, const char *real, const struct stat *st)
{
    for (size_t i = 0; i < p->depth; i++)
        if (p->walking[i].dev == st->st_dev && p->walking[i].ino == st->st_ino)
            return fail(p, "'%s' leads back into a folder above it (a symbolic link loop)", rel);
    if (p->depth == sizeof p->walking / sizeof p->walking[0])
        return fail(p, "'%s' is nested too deep to pack", rel);
    if (*rel) {
        char *path = strdup(rel);
        if (!path || !push(p, path, NULL, false)) return path ? false : nomem(p);
    }
    DIR *d = opendir(real);
    if (!d) return fail(p, "cannot read the folder '%s': %s", *rel ? rel : ".", strerror(errno));
    p->walking[p->depth].dev = st->st_dev;
    p->walking[p->depth].ino = st->st_ino;
    p->depth++;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *child = join(rel, de->d_name);
        if (!child) ok = nomem(p);
        else if (!is_excluded(p, child)) ok = add_path(p, child, true);
        free(child);
    }
    p->depth--;
    closedir(d);
    return ok;
}

/* One path of the app folder, resolved and checked to stay inside it. */
static bool add_path(packer *p, const char *rel, bool folder_ok)
{
    char *host = join(p->root, rel);
    if (!host) return nomem(p);
    char *real = realpath(host, NULL);
    int err = errno;
    free(host);
    if (!real) return fail(p, "cannot pack '%s': %s", *rel ? rel : ".", strerror(err));
    size_t nroot = strlen(p->root);
    if (strncmp(real, p->root, nroot) || (real[nroot] != '/' && real[nroot] != 0 && strcmp(p->root, "/"))) {
        fail(p, "'%s' leads outside the app folder (to %s); a bundle holds only what lies inside it", rel, real);
        free(real);
        return false;
    }
    struct stat st;
    if (stat(real, &st) != 0) {
        fail(p, "cannot pack '%s': %s", rel, strerror(errno));
        free(real);
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        bool ok = folder_ok ? add_folder(p, rel, real, &st) : fail(p, "'%s' is a folder, not a file", rel);
        free(real);
        return ok;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(p, "'%s' is %s; a bundle holds only files and folders", rel, kind_of(st.st_mode));
        free(real);
        return false;
    }
    p->bytes += (uint64_t)st.st_size;
    if (p->bytes > BUNDLE_MAX_BYTES) {
        free(real);
        return fail(p, "the app's files add up to more than %u MiB, the most a bundle may hold",
                    BUNDLE_MAX_BYTES >> 20);
    }
    char *path = strdup(rel);
    if (!path) return free(real), nomem(p);
    return push(p, path, real, (st.st_mode & 0111) != 0);
}

/* `exclude` and the map form's guest paths (/app/...) name paths inside
 * fs.source: "/app/data" is SOURCE/data in the bundle. */
static char *guest_to_bundle(packer *p, const char *source, const char *guest)
{
    const char *below = guest + strlen("/app");
    char *rel = join(source, *below == '/' ? below + 1 : below);
    if (!rel) return nomem(p), NULL;
    char *norm = normalize(p, rel);
    free(rel);
    return norm;
}

static bool add_granted(packer *p, const qv_manifest *m)
{
    const qv_fs_permission *fs = &m->permissions.fs;
    if (fs->access == QV_FS_NONE) return true;
    if (m->fs.type == QV_FS_MEMFS && !m->fs.source) return true;
    char *source = normalize(p, m->fs.source ? m->fs.source : ".");
    if (!source) return false;
    bool ok = true;
    if (fs->exclude.count && !(p->excluded = calloc(fs->exclude.count, sizeof *p->excluded))) ok = nomem(p);
    for (size_t i = 0; ok && i < fs->exclude.count; i++)
        ok = (p->excluded[p->nexcluded++] = guest_to_bundle(p, source, fs->exclude.items[i])) != NULL;
    if (ok && fs->access != QV_FS_PATHS) ok = add_path(p, source, true);
    for (int list = 0; ok && list < 2; list++) {
        const qv_string_list *l = list ? &fs->write : &fs->read;
        for (size_t i = 0; ok && i < l->count; i++) {
            char *rel = guest_to_bundle(p, source, l->items[i]);
            ok = rel && (is_excluded(p, rel) || add_path(p, rel, true));
            free(rel);
        }
    }
    free(source);
    return ok;
}

/* Every folder above an entry gets an entry of its own, so extraction
 * gives them the bundle's modes rather than the extractor's defaults. */
static bool add_parents(packer *p)
{
    size_t n = p->n;
    for (size_t i = 0; i < n; i++) {
        const char *path = p->entries[i].path;
        for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
            char *parent = strndup(path, (size_t)(slash - path));
            if (!parent || !push(p, parent, NULL, false)) return parent ? false : nomem(p);
        }
    }
    return true;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const pack_entry *)a)->path, ((const pack_entry *)b)->path);
}

/* Sorted, each path once. */
static void sort_unique(packer *p)
{
    qsort(p->entries, p->n, sizeof *p->entries, by_path);
    size_t out = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (out && !strcmp(p->entries[out - 1].path, p->entries[i].path)) {
            free(p->entries[i].path), free(p->entries[i].host);
            continue;
        }
        p->entries[out++] = p->entries[i];
    }
    p->n = out;
}

/* libarchive writes into a growing buffer. */
typedef struct sink {
    uint8_t *data;
    size_t len, cap;
} sink;

static la_ssize_t sink_write(struct archive *a, void *arg, const void *buf, size_t n)
{
    sink *s = arg;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + n) cap *= 2;
        uint8_t *d = realloc(s->data, cap);
        if (!d) {
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        s->data = d, s->cap = cap;
    }
    memcpy(s->data + s->len, buf, n);
    s->len += n;
    return (la_ssize_t)n;
}

static uint8_t *read_whole(packer *p, const pack_entry *e, size_t *len)
{
    int fd = open(e->host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(p, "cannot read '%s': %s", e->path, fd < 0 ? strerror(errno) : "no longer a file");
        if (fd >= 0) close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(size ? size : 1);
    while (buf && got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k <= 0) {
            fail(p, "cannot read '%s': %s", e->path, k < 0 ? strerror(errno) : "it shrank while being packed");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)k;
    }
    close(fd);
    if (!buf) return nomem(p), NULL;
    *len = size;
    return buf;
}

static bool write_entry(packer *p, struct archive *a, const pack_entry *e)
{
    struct archive_entry *ae = archive_entry_new();
    if (!ae) return nomem(p);
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_mtime(ae, 0, 0);
    archive_entry_set_uid(ae, 0);
    archive_entry_set_gid(ae, 0);
    uint8_t *data = NULL;
    size_t len = 0;
    if (!e->host) {
        archive_entry_set_filetype(ae, AE_IFDIR);
        archive_entry_set_perm(ae, 0755);
        archive_entry_set_size(ae, 0);
    } else {
        if (!(data = read_whole(p, e, &len))) return archive_entry_free(ae), false;
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, e->exec ? 0755 : 0644);
        archive_entry_set_size(ae, (la_int64_t)len);
    }
    bool ok = archive_write_header(a, ae) == ARCHIVE_OK &&
              (!len || archive_write_data(a, data, len) == (la_ssize_t)len);
    if (!ok) fail(p, "cannot pack '%s': %s", e->path, archive_error_string(a));
    free(data);
    archive_entry_free(ae);
    return ok;
}

static bool write_tar(packer *p, uint8_t **out, size_t *len)
{
    sink s = {0};
    struct archive *a = archive_write_new();
    if (!a) return nomem(p);
    bool ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
              archive_write_add_filter_none(a) == ARCHIVE_OK &&
              archive_write_open2(a, &s, NULL, sink_write, NULL, NULL) == ARCHIVE_OK;
    if (!ok) fail(p, "cannot start the tar: %s", archive_error_string(a));
    for (size_t i = 0; ok && i < p->n; i++) ok = write_entry(p, a, &p->entries[i]);
    if (ok && archive_write_close(a) != ARCHIVE_OK) ok = fail(p, "cannot finish the tar: %s", archive_error_string(a));
    archive_write_free(a);
    if (ok && s.len > BUNDLE_MAX_BYTES)
        ok = fail(p, "the bundle would be %zu bytes, more than the %u MiB a bundle may hold", s.len,
                  BUNDLE_MAX_BYTES >> 20);
    if (!ok) {
        free(s.data);
        return false;
    }
    *out = s.data, *len = s.len;
    return true;
}

static void packer_free(packer *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->entries[i].path), free(p->entries[i].host);
    free(p->entries);
    for (size_t i = 0; i < p->nexcluded; i++) free(p->excluded[i]);
    free(p->excluded);
    free(p->root);
}

bool bundle_pack(const char *manifest_path, uint8_t **out, size_t *len, char *manifest_name, size_t name_size,
                 char *why, size_t whylen)
{
    qv_manifest_error err = {0};
    qv_manifest *m = qv_manifest_load(manifest_path, &err);
    if (!m) {
        snprintf(why, whylen, "%s", err.message);
        return false;
    }
    packer p = {.file = m->file, .why = why, .whylen = whylen};
    const char *slash = strrchr(m->file, '/');
    const char *base = slash ? slash + 1 : m->file;
    bool ok = true;
    if (strlen(base) >= name_size) ok = fail(&p, "the manifest's name is too long");
    else snprintf(manifest_name, name_size, "%s", base);
    if (ok && !(p.root = realpath(m->dir, NULL))) ok = fail(&p, "cannot open the app folder %s: %s", m->dir, strerror(errno));
    char *entry = ok ? normalize(&p, m->entrypoint) : NULL;
    ok = ok && entry && add_path(&p, base, false) && add_path(&p, entry, false) && add_granted(&p, m) &&
         add_parents(&p);
    free(entry);
    if (ok) {
        sort_unique(&p);
        ok = write_tar(&p, out, len);
    }
    packer_free(&p);
    qv_manifest_free(m);
    return ok;
}
