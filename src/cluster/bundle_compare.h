/*
 * bundle_compare.h — whether a folder still holds what a bundle
 * (bundle.h) unpacked into it: how a node tells that its unpacked copy
 * of a cached bundle was changed on disk (src/cluster/node/bundle_cache.h).
 */
#ifndef QYVOL_CLUSTER_BUNDLE_COMPARE_H
#define QYVOL_CLUSTER_BUNDLE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Does dir hold every entry of the bundle's len bytes as it is there:
 * each file with the same bytes, each folder a folder, each symbolic link
 * with the same target, each hard link a file? Paths the bundle does not
 * name are not looked at. false with the first difference in why ("bin/
 * app.wasm: its bytes differ from the bundle's", "page.txt: missing"),
 * or why the bundle or folder could not be read. Thread-safe. */
bool bundle_matches_folder(const uint8_t *data, size_t len, const char *dir, char *why, size_t whylen);

#endif
