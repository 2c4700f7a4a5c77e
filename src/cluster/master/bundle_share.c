/*
 * bundle_share.c — a master's bundles (ha.h): kept as files in
 * DATA/bundles (HEX.tar and the unpacked HEX/), and, with several masters
 * on etcd, also in the store as chunks, so that whichever master leads
 * can check a deploy against a bundle another master received, and hand
 * it to nodes.
 *
 * Keys: bundles/HEX/NNNN hold 512 KiB each (etcd takes requests of up to
 * 1.5 MiB, and values travel base64); bundles/HEX = {"size", "chunks"} is
 * written last, so a bundle is in the store only once it is whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle.h"
#include "cluster/master/ha.h"
#include "serve/log.h"

#define CHUNK ((size_t)512 * 1024)

static bool write_file(const char *path, const void *data, size_t len)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w, left -= (size_t)w;
    }
    bool ok = !left && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) unlink(tmp);
    return ok;
}

bool master_bundle_save(master *m, const void *data, size_t len, const char *hex, int *status, char *why,
                        size_t whylen)
{
    char tar[800], dir[800], tmpdir[900], problem[600];
    snprintf(tar, sizeof tar, "%s/%s.tar", m->bundles_dir, hex);
    snprintf(dir, sizeof dir, "%s/%s", m->bundles_dir, hex);
    struct stat st;
    /* Had already: uploaded again, so kept a while even if no app names
     * it yet (retention.h). */
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && utimensat(AT_FDCWD, tar, NULL, 0) == 0) return true;
    snprintf(tmpdir, sizeof tmpdir, "%s/.unpack-%s-%ld", m->bundles_dir, hex, (long)getpid());
    if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST) {
        *status = 500;
        snprintf(why, whylen, "cannot make %s: %s", tmpdir, strerror(errno));
        return false;
    }
    if (!bundle_unpack(data, len, tmpdir, problem, sizeof problem)) {
        rmdir(tmpdir); /* bundle_unpack leaves it empty when it fails */
        *status = 400;
        snprintf(why, whylen, "the bundle cannot be unpacked: %s", problem);
        return false;
    }
    if (!write_file(tar, data, len) || (rename(tmpdir, dir) != 0 && errno != ENOTEMPTY && errno != EEXIST)) {
        *status = 500;
        snprintf(why, whylen, "cannot store the bundle in %s: %s", m->bundles_dir, strerror(errno));
        return false;
    }
    return true;
}

/* One put through the leader's fenced handle. */
static bool put_fenced(master *m, const store_op *op, char *why, size_t whylen)
{
    store_txn_result res;
    store_status st;
    if (!store_txn(m->st, NULL, 0, op, 1, NULL, 0, &res, &st)) {
        snprintf(why, whylen, "cannot share the bundle: %s", st.message);
        return false;
    }
    if (!res.succeeded) {
        snprintf(why, whylen, "cannot share the bundle: this master no longer leads");
        return false;
    }
    return true;
}

/* bundles/HEX (named in key): whether it is there, and the size it says. */
static bool read_meta(master *m, const char *hex, char key[128], size_t *size, bool *found, char *why, size_t whylen)
{
    snprintf(key, 128, "bundles/%s", hex);
    store_kv kv;
    store_status st;
    if (!store_get(m->st, key, &kv, found, &st)) {
        snprintf(why, whylen, "cannot read the bundle from the store: %s", st.message);
        return false;
    }
    *size = 0;
    if (*found) {
        json_t *meta = json_loadb((const char *)kv.value, kv.value_len, 0, NULL);
        *size = (size_t)json_integer_value(json_object_get(meta, "size"));
        json_decref(meta);
        store_kv_free(&kv);
    }
    return true;
}

bool master_bundle_share(master *m, const char *hex, const void *data, size_t len, char *why, size_t whylen)
{
    if (strcmp(store_kind(m->st), "etcd")) return true;
    char key[128];
    size_t size;
    bool found;
    if (!read_meta(m, hex, key, &size, &found, why, whylen)) return false;
    if (found) return true;
    /* Fenced like every write of the leader (store_set_guard). */
    size_t chunks = (len + CHUNK - 1) / CHUNK;
    for (size_t i = 0; i < chunks; i++) {
        char chunk_key[160];
        snprintf(chunk_key, sizeof chunk_key, "bundles/%s/%04zu", hex, i);
        size_t n = len - i * CHUNK < CHUNK ? len - i * CHUNK : CHUNK;
        store_op op = {.kind = STORE_PUT, .key = chunk_key, .value = (const char *)data + i * CHUNK, .value_len = n};
        if (!put_fenced(m, &op, why, whylen)) return false;
    }
    char meta[96];
    snprintf(meta, sizeof meta, "{\"chunks\":%zu,\"size\":%zu}", chunks, len);
    store_op op = {.kind = STORE_PUT, .key = key, .value = meta, .value_len = strlen(meta)};
    return put_fenced(m, &op, why, whylen);
}

bool master_bundle_fetch(master *m, const char *hex, char *why, size_t whylen)
{
    if (strcmp(store_kind(m->st), "etcd")) {
        snprintf(why, whylen, "no bundle %s", hex);
        return false;
    }
    char key[128];
    size_t size;
    bool found;
    if (!read_meta(m, hex, key, &size, &found, why, whylen)) return false;
    if (!found) {
        snprintf(why, whylen, "no bundle %s", hex);
        return false;
    }
    store_kv kv;
    store_status st;
    char prefix[140];
    snprintf(prefix, sizeof prefix, "bundles/%s/", hex);
    uint8_t *data = malloc(size ? size : 1);
    size_t have = 0;
    bool ok = data != NULL;
    /* One chunk at a time: a range of them all could pass etcd's limits. */
    for (size_t i = 0; ok && have < size; i++) {
        char chunk_key[160];
        snprintf(chunk_key, sizeof chunk_key, "%s%04zu", prefix, i);
        ok = store_get(m->st, chunk_key, &kv, &found, &st) && found && have + kv.value_len <= size;
        if (ok) memcpy(data + have, kv.value, kv.value_len), have += kv.value_len;
        if (found) store_kv_free(&kv);
    }
    char got[65];
    if (ok) bundle_digest(data, size, got);
    if (!ok || strcmp(got, hex)) {
        free(data);
        snprintf(why, whylen, "the bundle %s in the store is incomplete or damaged", hex);
        return false;
    }
    int status;
    ok = master_bundle_save(m, data, size, hex, &status, why, whylen);
    free(data);
    if (ok) log_json(LOG_INFO, "bundle fetched from the store", json_pack("{s:s,s:I}", "digest", hex, "size",
                                                                         (json_int_t)size));
    return ok;
}
