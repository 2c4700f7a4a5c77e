/*
 * cluster_config.c — the client side's files (cluster_cli.h): where they
 * are, cluster.json read and written, the token read, secrets written
 * 0600 and atomically, and which master and token a command uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cluster_cli.h"
#include "manifest/read_file.h"

bool cluster_config_dir(char *out, size_t size, char *why, size_t whylen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    /* The XDG spec: a relative XDG_CONFIG_HOME is invalid, ignore it. */
    if (xdg && xdg[0] == '/') n = snprintf(out, size, "%s/qyvol", xdg);
    else if (home && home[0] == '/') n = snprintf(out, size, "%s/.config/qyvol", home);
    else return cluster_fail(why, whylen, "neither XDG_CONFIG_HOME nor HOME is set to a folder; set one of them");
    if (n < 0 || (size_t)n >= size) return cluster_fail(why, whylen, "the configuration folder's path is too long");
    return true;
}

static bool join(char *out, size_t size, const char *dir, const char *name, char *why, size_t whylen)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < size ? true : cluster_fail(why, whylen, "%s/%s: path too long", dir, name);
}

static bool copy(char *out, size_t size, const char *value)
{
    if (strlen(value) >= size) return false;
    memcpy(out, value, strlen(value) + 1);
    return true;
}

bool cluster_config_load(const char *dir, cluster_config *cfg, char *why, size_t whylen)
{
    *cfg = (cluster_config){0};
    char path[PATH_MAX];
    if (!join(path, sizeof path, dir, "cluster.json", why, whylen)) return false;
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) {
        if (access(path, F_OK) != 0 && errno == ENOENT) return true;
        return cluster_fail(why, whylen, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    }
    bool ok = json_is_object(root);
    const char *master = json_string_value(json_object_get(root, "master"));
    const char *token_file = json_string_value(json_object_get(root, "token_file"));
    if (ok && master) ok = copy(cfg->master, sizeof cfg->master, master);
    if (ok && token_file) ok = copy(cfg->token_file, sizeof cfg->token_file, token_file);
    json_decref(root);
    if (!ok)
        return cluster_fail(why, whylen, "%s: not a client configuration (an object with \"master\" and \"token_file\")",
                    path);
    return true;
}

/* mkdir -p, the last folder 0700 (it holds the token). */
static bool make_dirs(const char *dir, char *why, size_t whylen)
{
    char buf[PATH_MAX];
    if (!copy(buf, sizeof buf, dir)) return cluster_fail(why, whylen, "%s: path too long", dir);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return cluster_fail(why, whylen, "cannot create %s: %s", buf, strerror(errno));
        *s = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return cluster_fail(why, whylen, "cannot create %s: %s", buf, strerror(errno));
    return true;
}

/* Write bytes to path through a temporary file in the same folder, mode
 * 0600, so readers never see half a file. */
static bool write_atomic(const char *path, const char *data, size_t len, bool replace, char *why, size_t whylen)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 16];
    if (!copy(dir, sizeof dir, path)) return cluster_fail(why, whylen, "%s: path too long", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (!make_dirs(dir, why, whylen)) return false;
    }
    if (!replace && access(path, F_OK) == 0) return cluster_fail(why, whylen, "%s already exists", path);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return cluster_fail(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
    bool ok = fchmod(fd, 0600) == 0 && write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    int err = ok ? 0 : errno;
    if (close(fd) != 0 && ok) ok = false, err = errno;
    /* link() refuses to replace, rename() replaces: either way atomic. */
    if (ok && !(replace ? rename(tmp, path) == 0 : link(tmp, path) == 0)) ok = false, err = errno;
    unlink(tmp);
    if (!ok) return cluster_fail(why, whylen, "cannot write %s: %s", path, strerror(err));
    return true;
}

bool cluster_config_save(const char *dir, const cluster_config *cfg, char *why, size_t whylen)
{
    char path[PATH_MAX];
    if (!join(path, sizeof path, dir, "cluster.json", why, whylen) || !make_dirs(dir, why, whylen)) return false;
    json_t *root = json_object();
    if (cfg->master[0]) json_object_set_new(root, "master", json_string(cfg->master));
    if (cfg->token_file[0]) json_object_set_new(root, "token_file", json_string(cfg->token_file));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text) return cluster_fail(why, whylen, "out of memory");
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) return free(text), cluster_fail(why, whylen, "out of memory");
    line[n] = '\n', line[n + 1] = 0;
    bool ok = write_atomic(path, line, n + 1, true, why, whylen);
    free(line);
    return ok;
}

bool cluster_ctx_resolve(cluster_ctx *ctx, const char *flag_master, const char *flag_token_file, char *why,
                         size_t whylen)
{
    if (!cluster_config_dir(ctx->config_dir, sizeof ctx->config_dir, why, whylen) ||
        !cluster_config_load(ctx->config_dir, &ctx->config, why, whylen))
        return false;
    /* The token file first: set-master and auth may still fix a bad master. */
    const char *env_master = getenv("QYVOL_MASTER"), *env_token = getenv("QYVOL_TOKEN_FILE");
    bool ok;
    if (flag_token_file) ok = copy(ctx->token_file, sizeof ctx->token_file, flag_token_file);
    else if (env_token && *env_token) ok = copy(ctx->token_file, sizeof ctx->token_file, env_token);
    else if (ctx->config.token_file[0]) ok = copy(ctx->token_file, sizeof ctx->token_file, ctx->config.token_file);
    else ok = join(ctx->token_file, sizeof ctx->token_file, ctx->config_dir, "token", why, whylen);
    if (!ok) return cluster_fail(why, whylen, "the token file's path is too long");
    const char *master = flag_master ? flag_master
                       : env_master && *env_master ? env_master
                       : ctx->config.master[0] ? ctx->config.master
                       : CLUSTER_DEFAULT_MASTER;
    char err[PATH_MAX + 256];
    if (cluster_parse_server(master, ctx->master, sizeof ctx->master, err, sizeof err))
        return cluster_ctx_transport(ctx, master, why, whylen);
    ctx->master[0] = 0;
    if (flag_master) return cluster_fail(why, whylen, "--master: %s", err);
    if (env_master && *env_master) return cluster_fail(why, whylen, "QYVOL_MASTER: %s", err);
    return cluster_fail(why, whylen, "%s/cluster.json: %s (set another with `qyv cluster set-master HOST:PORT`)",
                        ctx->config_dir, err);
}

bool cluster_ctx_transport(cluster_ctx *ctx, const char *text, char *why, size_t whylen)
{
    const char *env_ca = getenv("QYVOL_CA");
    bool ok = env_ca && *env_ca ? copy(ctx->ca_file, sizeof ctx->ca_file, env_ca)
                                : join(ctx->ca_file, sizeof ctx->ca_file, ctx->config_dir, "ca.crt", why, whylen);
    if (!ok) return cluster_fail(why, whylen, "the CA file's path is too long");
    bool have_ca = access(ctx->ca_file, R_OK) == 0;
    if (!strncmp(text, "http://", 7)) ctx->tls = false;
    else if (!strncmp(text, "https://", 8)) ctx->tls = true;
    else ctx->tls = have_ca;
    if (ctx->tls && !have_ca)
        return cluster_fail(why, whylen, "%s: https needs the cluster CA to check the master with, and %s cannot be read "
                            "(copy the ca.crt `qyv cluster init` made there, or set QYVOL_CA)", text, ctx->ca_file);
    return true;
}

bool cluster_secret_write(const char *path, const char *text, bool replace, char *why, size_t whylen)
{
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (!line) return cluster_fail(why, whylen, "out of memory");
    memcpy(line, text, n);
    line[n] = '\n', line[n + 1] = 0;
    bool ok = write_atomic(path, line, n + 1, replace, why, whylen);
    free(line);
    return ok;
}

bool cluster_token_new(char out[65], char *why, size_t whylen)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t k = getrandom(raw + got, sizeof raw - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return cluster_fail(why, whylen, "cannot get random bytes: %s", strerror(errno));
        got += (size_t)k;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

bool cluster_data_dir(const char *flag, char *out, size_t size, char *why, size_t whylen)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;
    if (flag) n = snprintf(out, size, "%s", flag);
    else if (xdg && xdg[0] == '/') n = snprintf(out, size, "%s/qyvol/cluster", xdg);
    else if (home && home[0] == '/') n = snprintf(out, size, "%s/.local/share/qyvol/cluster", home);
    else return cluster_fail(why, whylen, "neither XDG_DATA_HOME nor HOME is set to a folder; give --dir");
    if (n < 0 || (size_t)n >= size) return cluster_fail(why, whylen, "the data folder's path is too long");
    return true;
}

bool cluster_absolute(const char *path, char *out, size_t size)
{
    if (path[0] == '/') return copy(out, size, path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return false;
    int n = snprintf(out, size, "%s/%s", cwd, path);
    return n >= 0 && (size_t)n < size;
}
