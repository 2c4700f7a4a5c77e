/*
 * bundle_unpack.c — bundle bytes into a folder, safely (bundle.h). Each
 * entry is checked here before libarchive writes it (relative path without
 * "..", allowed type, budget of entries and bytes), its path is prefixed
 * with the folder's real path, and libarchive's own checks refuse writing
 * through symbolic links or along "..". Nothing changes the process's
 * working directory, so folders can be unpacked from several threads.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle.h"

static bool fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

/* A path the bundle may hold: relative, not empty, no ".." component. */
static bool safe_relative(const char *path)
{
    if (!path || !*path || path[0] == '/' || strlen(path) >= PATH_MAX / 2) return false;
    for (const char *s = path; *s;) {
        size_t k = strcspn(s, "/");
        if (k == 2 && s[0] == '.' && s[1] == '.') return false;
        s += k;
        while (*s == '/') s++;
    }
    return true;
}

static bool empty_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type;
    if (ftw->level > 0) remove(path);
    return 0;
}

/* Empty dir again after a failed unpack (no FTW_CHDIR: thread-safe). */
static void empty_out(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void bundle_remove(const char *dir)
{
    empty_out(dir);
    rmdir(dir);
}

static const char *type_name(mode_t type)
{
    switch (type) {
    case AE_IFIFO: return "a FIFO";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFSOCK: return "a socket";
    default: return "of an unknown type";
    }
}

/* Check one entry and point it into root. */
static bool admit(struct archive_entry *e, const char *root, uint64_t *bytes, char *why, size_t whylen)
{
    const char *name = archive_entry_pathname(e);
    if (!safe_relative(name))
        return fail(why, whylen, "the bundle holds the path '%s'; paths must be relative, without '..'",
                    name ? name : "(unreadable)");
    const char *hardlink = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (archive_entry_sparse_count(e) > 0) return fail(why, whylen, "'%s' is a sparse file; bundles hold none", name);
    if (hardlink) {
        if (!safe_relative(hardlink))
            return fail(why, whylen, "'%s' is a hard link to '%s', outside the bundle", name, hardlink);
    } else if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (!safe_relative(target))
            return fail(why, whylen, "'%s' is a symbolic link to '%s', which leads outside the bundle", name,
                        target ? target : "(unreadable)");
        archive_entry_set_perm(e, 0777);
    } else if (type == AE_IFDIR) {
        archive_entry_set_perm(e, 0755);
    } else if (type == AE_IFREG) {
        archive_entry_set_perm(e, archive_entry_perm(e) & 0111 ? 0755 : 0644);
    } else {
        return fail(why, whylen, "'%s' is %s; bundles hold only files, folders and links", name, type_name(type));
    }
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0) {
        *bytes += (uint64_t)archive_entry_size(e);
        if (*bytes > BUNDLE_MAX_BYTES)
            return fail(why, whylen, "the bundle unpacks to more than %u MiB", BUNDLE_MAX_BYTES >> 20);
    }
    char full[PATH_MAX];
    if (snprintf(full, sizeof full, "%s/%s", root, name) >= (int)sizeof full)
        return fail(why, whylen, "'%s' is too long a path", name);
    archive_entry_copy_pathname(e, full);
    if (hardlink) {
        snprintf(full, sizeof full, "%s/%s", root, hardlink);
        archive_entry_copy_hardlink(e, full);
    }
    return true;
}

static bool copy_data(struct archive *in, struct archive *out, const char *name, char *why, size_t whylen)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(in, &buf, &size, &offset);
        if (r == ARCHIVE_EOF) return true;
        if (r != ARCHIVE_OK) return fail(why, whylen, "cannot read '%s': %s", name, archive_error_string(in));
        if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK)
            return fail(why, whylen, "cannot write '%s': %s", name, archive_error_string(out));
    }
}

static bool extract(const uint8_t *data, size_t len, const char *root, char *why, size_t whylen)
{
    struct archive *in = archive_read_new(), *out = archive_write_disk_new();
    bool ok = in && out;
    if (!ok) fail(why, whylen, "out of memory");
    /* Only uncompressed tar: no decompression bombs, no other formats. */
    if (ok && (archive_read_support_format_tar(in) != ARCHIVE_OK ||
               archive_read_open_memory(in, data, len) != ARCHIVE_OK))
        ok = fail(why, whylen, "not a bundle (an uncompressed tar): %s", archive_error_string(in));
    if (ok)
        archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_NO_OVERWRITE | ARCHIVE_EXTRACT_PERM);
    uint64_t bytes = 0;
    size_t entries = 0;
    while (ok) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) {
            ok = fail(why, whylen, "not a valid bundle: %s", archive_error_string(in));
            break;
        }
        char name[256];
        snprintf(name, sizeof name, "%s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
        if (++entries > BUNDLE_MAX_ENTRIES)
            ok = fail(why, whylen, "the bundle has more than %u entries", BUNDLE_MAX_ENTRIES);
        else if (!admit(e, root, &bytes, why, whylen))
            ok = false;
        else if (archive_write_header(out, e) != ARCHIVE_OK)
            ok = fail(why, whylen, "cannot unpack '%s': %s", name, archive_error_string(out));
        else if (archive_entry_size(e) > 0)
            ok = copy_data(in, out, name, why, whylen);
        if (ok && archive_write_finish_entry(out) != ARCHIVE_OK)
            ok = fail(why, whylen, "cannot unpack '%s': %s", name, archive_error_string(out));
    }
    if (out && archive_write_close(out) != ARCHIVE_OK && ok)
        ok = fail(why, whylen, "cannot finish unpacking: %s", archive_error_string(out));
    archive_read_free(in);
    archive_write_free(out);
    return ok;
}

bool bundle_unpack(const uint8_t *data, size_t len, const char *dir, char *why, size_t whylen)
{
    if (len > BUNDLE_MAX_BYTES)
        return fail(why, whylen, "the bundle is %zu bytes, more than %u MiB", len, BUNDLE_MAX_BYTES >> 20);
    bool created = mkdir(dir, 0755) == 0;
    if (!created && !(errno == EEXIST && empty_folder(dir)))
        return fail(why, whylen, "cannot unpack into %s: %s", dir, errno == EEXIST ? "not an empty folder" : strerror(errno));
    /* The prefix is a real path: libarchive's check for symbolic links
     * along the way then only meets links the bundle itself made. */
    char *root = realpath(dir, NULL);
    bool ok = root ? extract(data, len, root, why, whylen) : fail(why, whylen, "cannot open %s: %s", dir, strerror(errno));
    if (!ok) {
        if (root) empty_out(root);
        if (created) rmdir(dir);
    }
    free(root);
    return ok;
}
