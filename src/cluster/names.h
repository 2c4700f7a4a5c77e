/*
 * names.h — names that come from outside (the API, the command line, a
 * heartbeat answer) and are checked the same way everywhere: app and node
 * names, and paths inside a bundle.
 */
#ifndef QYVOL_CLUSTER_NAMES_H
#define QYVOL_CLUSTER_NAMES_H

#include <stdbool.h>

/* An app or node name: [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63
 * characters (a DNS label). */
bool cluster_name_valid(const char *name);

/* A path inside a bundle: relative, no empty segment, no "..". */
bool cluster_bundle_path_valid(const char *path);

#endif
