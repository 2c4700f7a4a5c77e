/*
 * bundle_cache.c — the node's bundle cache checked at each load
 * (bundle_cache.h): HEX.tar hashed against its name, HEX/ compared with
 * HEX.tar, and whatever is wrong fetched or unpacked again. Files are
 * written aside (names starting with '.') and renamed into place, so that
 * HEX.tar and HEX/ are always whole; a crash between the two leaves
 * nothing the next load does not check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle.h"
#include "cluster/bundle_compare.h"
#include "cluster/node/bundle_cache.h"

void bundle_cache_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.' || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        bundle_remove(path);
    }
    closedir(d);
}

/* The whole file at path into *data: 1; missing: 0; else -1 with why. */
static int read_whole(const char *path, uint8_t **data, size_t *len, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    if (fd < 0) {
        snprintf(why, whylen, "it cannot be opened: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    int result = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) snprintf(why, whylen, "it is not a file");
    else if ((uint64_t)st.st_size > BUNDLE_MAX_BYTES) snprintf(why, whylen, "it is %lld bytes, more than a bundle may be", (long long)st.st_size);
    else if (!(*data = malloc((size_t)st.st_size + 1))) snprintf(why, whylen, "out of memory");
    else {
        size_t got = 0;
        ssize_t r = 1;
        while (got < (size_t)st.st_size && ((r = read(fd, *data + got, (size_t)st.st_size - got)) > 0 || (r < 0 && errno == EINTR)))
            if (r > 0) got += (size_t)r;
        if (r < 0) snprintf(why, whylen, "it cannot be read: %s", strerror(errno));
        else result = 1;
        *len = got;
        if (result < 0) free(*data), *data = NULL;
    }
    close(fd);
    return result;
}

/* Write the bytes to path, through a file aside renamed into place. */
static bool write_aside(const bundle_cache *c, const char *digest, const char *path, const uint8_t *data, size_t len,
                        char *why, size_t whylen)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s/.fetching-%s-%d", c->dir, digest, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    for (size_t done = 0; ok && done < len;) {
        ssize_t w = write(fd, data + done, len - done);
        if (w > 0) done += (size_t)w;
        else if (!(w < 0 && errno == EINTR)) ok = false;
    }
    if (fd >= 0 && close(fd) != 0) ok = false;
    if (ok && rename(tmp, path) == 0) return true;
    snprintf(why, whylen, "bundle %.12s: cannot keep it in %s: %s", digest, c->dir, strerror(errno));
    unlink(tmp);
    return false;
}

/* The tar: the cached one if it hashes to its name, else fetched again. */
static bool tar_bytes(const bundle_cache *c, const char *digest, uint8_t **data, size_t *len, char *why, size_t whylen)
{
    char tar[4400], tree[4400], problem[300] = "", got[65];
    snprintf(tar, sizeof tar, "%s/%s.tar", c->dir, digest);
    snprintf(tree, sizeof tree, "%s/%s", c->dir, digest);
    int r = read_whole(tar, data, len, problem, sizeof problem);
    if (r > 0) {
        bundle_digest(*data, *len, got);
        if (!strcmp(got, digest)) return true;
        snprintf(problem, sizeof problem, "its %zu bytes hash to %.12s, not to its name", *len, got);
        free(*data), *data = NULL;
    }
    struct stat st;
    if (*problem) {
        c->log(c->ctx, LOG_WARN, "a cached bundle is corrupted; fetching it again",
               json_pack("{s:s,s:s,s:s}", "digest", digest, "file", tar, "reason", problem));
        unlink(tar);
    } else if (lstat(tree, &st) == 0) {
        c->log(c->ctx, LOG_WARN, "a cached bundle is missing; fetching it again",
               json_pack("{s:s,s:s,s:s}", "digest", digest, "file", tar, "reason", "the file is gone"));
    }
    if (!c->fetch(c->ctx, digest, data, len, why, whylen)) return false;
    bundle_digest(*data, *len, got);
    if (strcmp(got, digest)) {
        snprintf(why, whylen, "bundle %.12s: its bytes hash to %.12s, not to its name", digest, got);
        free(*data), *data = NULL;
        return false;
    }
    if (!write_aside(c, digest, tar, *data, *len, why, whylen)) {
        free(*data), *data = NULL;
        return false;
    }
    c->log(c->ctx, LOG_INFO, "bundle fetched", json_pack("{s:s,s:I}", "digest", digest, "bytes", (json_int_t)*len));
    return true;
}

/* Unpack into a folder aside, then put it in place of tree (the old one,
 * if any, moved aside: an app still running may read it). */
static bool unpack_in_place(const bundle_cache *c, const char *digest, const uint8_t *data, size_t len, char *why,
                            size_t whylen)
{
    static unsigned stale;
    char tmp[4400], tree[4400], aside[4400], problem[600];
    snprintf(tree, sizeof tree, "%s/%s", c->dir, digest);
    snprintf(tmp, sizeof tmp, "%s/.unpacking-%s-%d", c->dir, digest, (int)getpid());
    bundle_remove(tmp);
    if (!bundle_unpack(data, len, tmp, problem, sizeof problem)) {
        snprintf(why, whylen, "bundle %.12s: %s", digest, problem);
        bundle_remove(tmp);
        return false;
    }
    snprintf(aside, sizeof aside, "%s/.stale-%s-%d-%u", c->dir, digest, (int)getpid(), stale++);
    if ((rename(tree, aside) != 0 && errno != ENOENT) || rename(tmp, tree) != 0) {
        snprintf(why, whylen, "bundle %.12s: cannot move it in place: %s", digest, strerror(errno));
        bundle_remove(tmp);
        return false;
    }
    return true;
}

bool bundle_cache_load(const bundle_cache *c, const char *digest, char *why, size_t whylen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (!tar_bytes(c, digest, &data, &len, why, whylen)) return false;
    char tree[4400], problem[600];
    snprintf(tree, sizeof tree, "%s/%s", c->dir, digest);
    struct stat st;
    bool ok = true;
    if (lstat(tree, &st) != 0) {
        ok = unpack_in_place(c, digest, data, len, why, whylen);
    } else if (!bundle_matches_folder(data, len, tree, problem, sizeof problem)) {
        c->log(c->ctx, LOG_WARN, "an unpacked bundle was changed on disk; unpacking it again",
               json_pack("{s:s,s:s,s:s}", "digest", digest, "folder", tree, "reason", problem));
        ok = unpack_in_place(c, digest, data, len, why, whylen);
    }
    free(data);
    return ok;
}

void bundle_cache_prune(const bundle_cache *c, json_t *in_use, json_t *last_named, uint64_t keep_ms, uint64_t now_ms)
{
    const char *hex;
    json_t *v;
    json_object_foreach(in_use, hex, v) json_object_set_new(last_named, hex, json_integer((json_int_t)now_ms));
    json_t *cached = json_object();
    DIR *d = opendir(c->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char name[65];
        if (bundle_tar_name(de->d_name, name)) json_object_set_new(cached, name, json_true());
    }
    if (d) closedir(d);
    void *tmp;
    json_object_foreach_safe(cached, tmp, hex, v) {
        json_t *seen = json_object_get(last_named, hex);
        if (!seen) {
            json_object_set_new(last_named, hex, json_integer((json_int_t)now_ms));
            continue;
        }
        uint64_t idle = now_ms - (uint64_t)json_integer_value(seen);
        if (idle < keep_ms) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s.tar", c->dir, hex);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s", c->dir, hex);
        bundle_remove(path);
        c->log(c->ctx, LOG_INFO, "cached bundle removed: no assignment names it",
               json_pack("{s:s,s:I}", "digest", hex, "idle_ms", (json_int_t)idle));
        json_object_del(cached, hex); /* hex is freed with it */
    }
    /* Forget what is no longer cached (nor named). */
    json_object_foreach_safe(last_named, tmp, hex, v) {
        if (!json_object_get(cached, hex) && !json_object_get(in_use, hex)) json_object_del(last_named, hex);
    }
    json_decref(cached);
}
