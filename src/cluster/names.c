/*
 * names.c — see names.h.
 */
#include "cluster/names.h"

#include <string.h>

bool cluster_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63 || name[0] == '-' || name[n - 1] == '-') return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

bool cluster_bundle_path_valid(const char *path)
{
    if (!path || !*path || path[0] == '/') return false;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 2 && !strncmp(p, "..", 2))) return false;
        p += n;
        if (*p == '/') p++;
    }
    return true;
}
