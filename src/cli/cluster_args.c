/*
 * cluster_args.c — the arguments the cluster commands share
 * (cluster_cli.h): server addresses as people write them, names, the app
 * an argument means, and deploy's overrides in the API's units (bytes,
 * millicores).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cluster_cli.h"
#include "manifest/manifest.h"
#include "manifest/units.h"

bool cluster_fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

static bool parse_port(const char *s, long *port)
{
    char *end;
    errno = 0;
    long p = strtol(s, &end, 10);
    if (errno || end == s || *end || !isdigit((unsigned char)*s) || p < 1 || p > 65535) return false;
    *port = p;
    return true;
}

bool cluster_parse_server(const char *text, char *out, size_t size, char *why, size_t whylen)
{
    const char *s = text;
    if (!strncmp(s, "https://", 8)) s += 8;
    else if (!strncmp(s, "http://", 7)) s += 7;
    else if (strstr(s, "://")) return cluster_fail(why, whylen, "'%s': only https:// and http:// addresses are spoken", text);
    char buf[CLUSTER_ADDRESS_MAX];
    size_t n = strcspn(s, "/");
    if (s[n] && strcmp(s + n, "/")) return cluster_fail(why, whylen, "'%s': a server address has no path", text);
    if (n == 0 || n >= sizeof buf) return cluster_fail(why, whylen, "'%s' is not HOST:PORT", text);
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *host = buf, *port_text = NULL;
    bool v6 = false;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || close == buf + 1 || (close[1] && close[1] != ':'))
            return cluster_fail(why, whylen, "'%s' is not [IPV6]:PORT", text);
        *close = 0;
        host = buf + 1, v6 = true;
        if (close[1] == ':') port_text = close + 2;
        for (const char *c = host; *c; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return cluster_fail(why, whylen, "'%s' is not [IPV6]:PORT", text);
    } else {
        char *colon = strchr(buf, ':');
        if (colon && strchr(colon + 1, ':'))
            return cluster_fail(why, whylen, "'%s': write an IPv6 address in brackets, [ADDRESS]:PORT", text);
        if (colon) *colon = 0, port_text = colon + 1;
        if (!*host) return cluster_fail(why, whylen, "'%s' has no host", text);
        for (const char *c = host; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
                return cluster_fail(why, whylen, "'%s' is not HOST:PORT", text);
    }
    long port = CLUSTER_DEFAULT_PORT;
    if (port_text && !parse_port(port_text, &port))
        return cluster_fail(why, whylen, "'%s': the port must be a number from 1 to 65535", text);
    int k = snprintf(out, size, v6 ? "[%s]:%ld" : "%s:%ld", host, port);
    if (k < 0 || (size_t)k >= size) return cluster_fail(why, whylen, "'%s' is too long", text);
    return true;
}

bool cluster_app_name(const char *arg, char *out, size_t size, char *why, size_t whylen)
{
    size_t n = strlen(arg);
    bool manifest = strchr(arg, '/') || (n > 4 && !strcmp(arg + n - 4, ".qyv"));
    if (!manifest) {
        if (!cluster_name_valid(arg))
            return cluster_fail(why, whylen, "'%s' is neither a manifest (FILE.qyv) nor an app name (lower-case letters, "
                        "digits and '-', at most 63)", arg);
        snprintf(out, size, "%s", arg);
        return true;
    }
    qv_manifest_error err = {0};
    qv_manifest *m = qv_manifest_load(arg, &err);
    if (!m) return cluster_fail(why, whylen, "%s", err.message);
    bool fits = strlen(m->name) < size;
    if (fits) snprintf(out, size, "%s", m->name);
    qv_manifest_free(m);
    return fits ? true : cluster_fail(why, whylen, "%s: the app's name is too long", arg);
}

static bool parse_count(const char *opt, const char *arg, long min, long max, long *out, char *why, size_t whylen)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || !isdigit((unsigned char)*arg) || v < min || v > max)
        return cluster_fail(why, whylen, "--%s takes a whole number from %ld to %ld, not '%s'", opt, min, max, arg);
    *out = v;
    return true;
}

static bool valid_env_name(const char *s, size_t n)
{
    if (!n || isdigit((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static json_t *array_in(json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);
    if (!a) json_object_set_new(obj, key, a = json_array());
    return a;
}

static bool add_nodes(json_t *overrides, const char *arg, char *why, size_t whylen)
{
    json_t *nodes = array_in(overrides, "nodes");
    for (const char *s = arg;;) {
        size_t k = strcspn(s, ",");
        char name[64];
        if (k == 0 || k >= sizeof name)
            return cluster_fail(why, whylen, "--nodes takes node names separated by commas, not '%s'", arg);
        memcpy(name, s, k);
        name[k] = 0;
        if (!cluster_name_valid(name))
            return cluster_fail(why, whylen, "--nodes: '%s' is not a node name (lower-case letters, digits and '-')", name);
        bool seen = false;
        for (size_t i = 0; i < json_array_size(nodes); i++)
            seen |= !strcmp(json_string_value(json_array_get(nodes, i)), name);
        if (!seen) json_array_append_new(nodes, json_string(name));
        if (!s[k]) return true;
        s += k + 1;
    }
}

bool cluster_override(json_t *overrides, const char *opt, const char *arg, char *why, size_t whylen)
{
    char err[256];
    long n;
    if (!strcmp(opt, "replicas")) {
        if (!parse_count(opt, arg, 1, QV_MANIFEST_MAX_REPLICAS, &n, why, whylen)) return false;
        return json_object_set_new(overrides, "replicas", json_integer(n)) == 0;
    }
    if (!strcmp(opt, "port")) {
        if (!parse_count(opt, arg, 1, 65535, &n, why, whylen)) return false;
        return json_object_set_new(overrides, "port", json_integer(n)) == 0;
    }
    if (!strcmp(opt, "memory")) {
        uint64_t bytes;
        if (!qv_parse_size(arg, &bytes, err, sizeof err))
            return cluster_fail(why, whylen, "--memory has an invalid size '%s': %s", arg, err);
        if (bytes < QV_MANIFEST_MIN_MEMORY_BYTES || bytes > (uint64_t)INT64_MAX)
            return cluster_fail(why, whylen, "--memory '%s' is less than 64KiB, one WebAssembly page", arg);
        return json_object_set_new(overrides, "memory", json_integer((json_int_t)bytes)) == 0;
    }
    if (!strcmp(opt, "cpu")) {
        uint32_t millicores;
        if (!qv_parse_cpu(arg, &millicores, err, sizeof err))
            return cluster_fail(why, whylen, "--cpu has an invalid CPU amount '%s': %s", arg, err);
        return json_object_set_new(overrides, "cpu", json_integer(millicores)) == 0;
    }
    if (!strcmp(opt, "env")) {
        const char *eq = strchr(arg, '=');
        if (!eq || !valid_env_name(arg, (size_t)(eq - arg)))
            return cluster_fail(why, whylen, "--env takes NAME=VALUE (NAME: letters, digits and '_', not starting with a "
                        "digit), not '%s'", arg);
        json_t *value = json_string(arg);
        if (!value) return cluster_fail(why, whylen, "--env '%s' is not valid UTF-8", arg);
        return json_array_append_new(array_in(overrides, "env"), value) == 0;
    }
    if (!strcmp(opt, "nodes")) return add_nodes(overrides, arg, why, whylen);
    return cluster_fail(why, whylen, "--%s is not a deploy override", opt);
}

bool cluster_output(const char *arg, bool *json)
{
    if (!strcmp(arg, "json")) return *json = true;
    if (!strcmp(arg, "table") || !strcmp(arg, "text")) return !(*json = false);
    return false;
}
