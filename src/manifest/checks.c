/*
 * checks.c — the rules for names and paths a manifest holds: the app name,
 * the entry point and fs.source (host paths that must stay inside the app
 * folder), HTTP paths, guest paths, environment variable names and network
 * hosts. Each reports at the offending node with the rule it broke.
 */
#include <arpa/inet.h>
#include <string.h>

#include "parse.h"

#define DNS_LABEL_MAX 63
#define DNS_NAME_MAX 253

static const char *quote(const char *text, char *buf)
{
    return mf_quote(text, strlen(text), buf, MF_QUOTE_SIZE);
}

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

/* The app name becomes a DNS label (in cluster mode apps are addressed by
 * name) and the default route, so it follows RFC 1123's label rules. */
bool mf_check_name(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text)
{
    char q[MF_QUOTE_SIZE];
    size_t len = strlen(text);
    if (len == 0) return mf_fail(ctx, node, "'%s' is empty; expected a name such as my-app", key);
    if (len > DNS_LABEL_MAX)
        return mf_fail(ctx, node, "'%s' is %zu characters long; at most %d are allowed", key, len,
                       DNS_LABEL_MAX);
    for (const char *p = text; *p; p++)
        if (!is_lower_alnum(*p) && *p != '-')
            return mf_fail(ctx, node,
                           "'%s' may contain only lowercase letters, digits and '-' (it is used "
                           "as a DNS label), got '%s'",
                           key, quote(text, q));
    if (text[0] == '-' || text[len - 1] == '-')
        return mf_fail(ctx, node, "'%s' must start and end with a letter or digit, got '%s'", key,
                       quote(text, q));
    return true;
}

/* True if the '/'-separated path has a component equal to `component`. */
static bool has_component(const char *path, const char *component)
{
    size_t n = strlen(component);
    for (const char *p = path; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
        if (strncmp(p, component, n) == 0 && (p[n] == '/' || p[n] == '\0')) return true;
    return false;
}

/* The app folder is what gets deployed and what the guest sees at /app,
 * so files the manifest names on the host must be inside it: no absolute
 * paths and no "..". (Symbolic links are the runner's business: it opens
 * paths beneath the folder without following links out of it.) */
bool mf_check_relative_path(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                            const char *text)
{
    char q[MF_QUOTE_SIZE];
    if (text[0] == '\0')
        return mf_fail(ctx, node, "'%s' is empty; expected a path relative to the manifest's folder",
                       key);
    if (text[0] == '/')
        return mf_fail(ctx, node,
                       "'%s' must be a path relative to the manifest's folder, got the absolute "
                       "path '%s'",
                       key, quote(text, q));
    if (text[0] == '~')
        return mf_fail(ctx, node,
                       "'%s' must be a path relative to the manifest's folder; '~' is not "
                       "expanded, got '%s'",
                       key, quote(text, q));
    if (has_component(text, ".."))
        return mf_fail(ctx, node, "'%s' must stay inside the manifest's folder; '..' is not allowed, got '%s'",
                       key, quote(text, q));
    return true;
}

bool mf_check_entrypoint(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text)
{
    char q[MF_QUOTE_SIZE];
    if (!mf_check_relative_path(ctx, node, key, text)) return false;
    const char *base = strrchr(text, '/');
    base = base ? base + 1 : text;
    size_t len = strlen(base);
    if (len <= 5 || strcmp(base + len - 5, ".wasm") != 0)
        return mf_fail(ctx, node, "'%s' must name a .wasm file, got '%s'", key, quote(text, q));
    return true;
}

/* Shared by routes and guest paths: no "//", "." or ".." and no trailing
 * '/', so each path has one spelling and prefixes compare reliably. */
static bool check_segments(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text,
                           const char *noun)
{
    char q[MF_QUOTE_SIZE];
    if (strstr(text, "//"))
        return mf_fail(ctx, node, "'%s' has an empty %s ('//'), got '%s'", key, noun, quote(text, q));
    if (has_component(text + 1, ".") || has_component(text + 1, ".."))
        return mf_fail(ctx, node, "'%s' must not contain '.' or '..' %ss, got '%s'", key, noun,
                       quote(text, q));
    if (strlen(text) > 1 && text[strlen(text) - 1] == '/')
        return mf_fail(ctx, node, "'%s' must not end with '/', got '%s'", key, quote(text, q));
    return true;
}

bool mf_check_url_path(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text)
{
    char q[MF_QUOTE_SIZE];
    if (text[0] != '/')
        return mf_fail(ctx, node, "'%s' must start with '/', got '%s'", key, quote(text, q));
    /* RFC 3986's unreserved characters: nothing that needs escaping or
     * could carry a query or fragment. */
    for (const char *p = text; *p; p++)
        if (!is_alnum(*p) && !strchr("-._~/", *p))
            return mf_fail(ctx, node,
                           "'%s' may contain only letters, digits, '-', '.', '_', '~' and '/', "
                           "got '%s'",
                           key, quote(text, q));
    return check_segments(ctx, node, key, text, "segment");
}

bool mf_check_guest_path(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text)
{
    char q[MF_QUOTE_SIZE];
    if (text[0] != '/')
        return mf_fail(ctx, node, "'%s' must be an absolute guest path such as /app/data, got '%s'",
                       key, quote(text, q));
    if (!check_segments(ctx, node, key, text, "component")) return false;
    if (strncmp(text, "/app", 4) != 0 || (text[4] != '/' && text[4] != '\0'))
        return mf_fail(ctx, node,
                       "'%s' must be /app or a path under it (the guest sees the app's folder at "
                       "/app), got '%s'",
                       key, quote(text, q));
    return true;
}

bool mf_check_env_name(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text)
{
    char q[MF_QUOTE_SIZE];
    bool ok = text[0] != '\0' && !(text[0] >= '0' && text[0] <= '9');
    for (const char *p = text; ok && *p; p++) ok = is_alnum(*p) || *p == '_';
    if (!ok)
        return mf_fail(ctx, node,
                       "'%s' has an invalid variable name '%s'; use letters, digits and '_', "
                       "not starting with a digit",
                       key, quote(text, q));
    return true;
}

static bool is_dns_name(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || len > DNS_NAME_MAX) return false;
    size_t label = 0;
    for (const char *p = text;; p++) {
        if (*p == '.' || *p == '\0') {
            /* A label is 1-63 characters without '-' at either end. */
            if (label == 0 || label > DNS_LABEL_MAX || p[-1] == '-' || p[-(long)label] == '-')
                return false;
            if (*p == '\0') return true;
            label = 0;
        } else if (is_alnum(*p) || *p == '-') {
            label++;
        } else {
            return false;
        }
    }
}

bool mf_check_host(mf_ctx *ctx, const yaml_node_t *node, const char *key, const char *text)
{
    char q[MF_QUOTE_SIZE];
    unsigned char addr[16];
    if (inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1) return true;
    if (strstr(text, "://"))
        return mf_fail(ctx, node, "'%s' must be a host name, not a URL, got '%s'", key, quote(text, q));
    if (strchr(text, ':'))
        return mf_fail(ctx, node, "'%s' must be a host without a port (list ports in "
                       "'permissions.net.allowed_ports'), got '%s'", key, quote(text, q));
    const char *name = strncmp(text, "*.", 2) == 0 ? text + 2 : text;
    if (!is_dns_name(name))
        return mf_fail(ctx, node,
                       "'%s' must be a host name (api.example.com), a wildcard (*.example.com) "
                       "or an IP address, got '%s'",
                       key, quote(text, q));
    return true;
}
