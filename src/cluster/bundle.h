/*
 * bundle.h — an app as one file for the cluster (docs/api.md, "Bundles"):
 * the manifest, its entrypoint and every folder `permissions.fs` grants,
 * packed into an uncompressed POSIX tar (pax, restricted to ustar where it
 * suffices) named by the SHA-256 of its bytes.
 *
 * What this module offers:
 *   - bundle_pack(): the app folder of a manifest into tar bytes;
 *   - bundle_unpack(): tar bytes into a folder, refusing anything that
 *     could reach outside it; bundle_remove() removes such a folder;
 *   - bundle_digest(): the bundle's name, 64 lower-case hex digits;
 *     bundle_digest_valid() checks a name given from outside.
 *
 * Packing is deterministic: entries sorted by path (bytewise), every
 * folder above an entry present, mtime, uid and gid zero, no user or group
 * names, modes 0755 (folders, files with an execute bit) or 0644. Symbolic
 * links are resolved, not stored: a link whose target lies inside the
 * manifest's folder is packed as the file or folder it names (a folder
 * reached twice through links on one walk is refused as a loop); a link
 * leading outside is refused. So bundles hold only files and folders.
 *
 * What goes in, paths relative to the manifest's folder:
 *   - the manifest itself (its base name);
 *   - the entrypoint;
 *   - with `permissions.fs` read, write or read-write: the whole of
 *     `fs.source` (the manifest's folder by default); with the map form,
 *     each listed path below it; `exclude`d paths are left out (they are
 *     hidden from the guest, and are often secrets). A memfs app without
 *     `fs.source` ships no files.
 * Sockets, FIFOs and devices in those folders are refused.
 *
 * Unpacking accepts only an uncompressed tar of regular files, folders,
 * symbolic links whose target is relative without "..", and hard links to
 * such paths; it refuses absolute paths, "..", devices, FIFOs, sparse
 * entries, more than BUNDLE_MAX_ENTRIES entries or BUNDLE_MAX_BYTES of
 * content, and writes with libarchive's ARCHIVE_EXTRACT_SECURE_* checks.
 *
 * Every function is thread-safe (no chdir, no global state). Failures
 * return false and write one line saying what is wrong into why.
 */
#ifndef QYVOL_CLUSTER_BUNDLE_H
#define QYVOL_CLUSTER_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest bundle the master accepts (413 above it), and the most
 * content one may unpack to. */
#define BUNDLE_MAX_BYTES (256u * 1024u * 1024u)
/* Entries (files, folders, links) in one bundle. */
#define BUNDLE_MAX_ENTRIES 100000u

/* Pack the app of the manifest at manifest_path. On success *out (free()
 * it) holds *len bytes and manifest_name the manifest's path inside the
 * bundle. A manifest that does not parse gives its FILE:LINE:COLUMN
 * message in why. */
bool bundle_pack(const char *manifest_path, uint8_t **out, size_t *len, char *manifest_name, size_t name_size,
                 char *why, size_t whylen);

/* Extract len bytes of bundle into dir, which must not exist or be an
 * empty folder. On failure dir is left empty (or absent, if this call
 * created it). */
bool bundle_unpack(const uint8_t *data, size_t len, const char *dir, char *why, size_t whylen);

/* Remove dir and everything below it (rm -rf; symbolic links are
 * removed, never followed): an unpacked bundle no longer wanted, or what
 * a failed unpack left. */
void bundle_remove(const char *dir);

/* The bundle's name: SHA-256 of its bytes as 64 lower-case hex digits. */
void bundle_digest(const uint8_t *data, size_t len, char hex[65]);

/* Is hex a bundle's name (64 lower-case hex digits, nothing else)? For
 * paths such as /v1/bundles/HEX and DATA/bundles/HEX.tar. */
bool bundle_digest_valid(const char *hex);

/* Is file_name a bundle's tar as kept in a bundles folder, HEX.tar? When
 * it is, hex gets HEX. (The master's and the nodes' folders are swept by
 * it.) */
bool bundle_tar_name(const char *file_name, char hex[65]);

#endif
