/*
 * control.c — the control token and the checks on control requests.
 */
#include "serve/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder of the token files, made 0700 and checked to be ours (a
 * folder someone else made in /tmp must not be trusted). */
static bool token_dir(char *dir, size_t n, bool create, char *why, size_t whylen)
{
    const char *run = getenv("XDG_RUNTIME_DIR");
    if (run && *run == '/') snprintf(dir, n, "%s/qyvol", run);
    else snprintf(dir, n, "/tmp/qyvol-%u", (unsigned)getuid());
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot make %s: %s", dir, strerror(errno));
        return false;
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        snprintf(why, whylen, "%s: %s", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
        snprintf(why, whylen, "%s is not a private folder of this user: refusing to use it", dir);
        return false;
    }
    return true;
}

int control_auth_init(control_auth *a, uint16_t port, char *why, size_t whylen)
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(why, whylen, "cannot get random bytes: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(a->token + 2 * i, 3, "%02x", raw[i]);
    char dir[400], tmp[600];
    a->path[0] = '\0';
    if (!token_dir(dir, sizeof dir, true, why, whylen)) return -1;
    snprintf(a->path, sizeof a->path, "%s/serve-%u.token", dir, port);
    snprintf(tmp, sizeof tmp, "%s.%ld", a->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, a->token, 64) == 64 && write(fd, "\n", 1) == 1;
    if (fd >= 0) close(fd);
    if (!ok || rename(tmp, a->path) != 0) {
        snprintf(why, whylen, "cannot write %s: %s", a->path, strerror(errno));
        unlink(tmp);
        a->path[0] = '\0';
        return -1;
    }
    return 0;
}

void control_auth_remove(control_auth *a)
{
    if (!a->path[0]) return;
    /* Only our own: another server may have taken the port since. */
    char token[80] = "";
    FILE *f = fopen(a->path, "r");
    if (f) {
        if (!fgets(token, sizeof token, f)) token[0] = '\0';
        fclose(f);
    }
    if (!strncmp(token, a->token, 64)) unlink(a->path);
    a->path[0] = '\0';
}

bool control_token_read(uint16_t port, char *token, size_t n, char *why, size_t whylen)
{
    char dir[400], path[600];
    if (!token_dir(dir, sizeof dir, false, why, whylen)) return false;
    snprintf(path, sizeof path, "%s/serve-%u.token", dir, port);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "cannot read the server's control token %s: %s%s", path, strerror(errno),
                 errno == EACCES ? " (run as the user who started qyv serve)" : "");
        return false;
    }
    bool ok = fgets(token, (int)n, f) != NULL;
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    if (!ok || strlen(token) != 64) {
        snprintf(why, whylen, "%s does not hold a control token", path);
        return false;
    }
    return true;
}

bool control_host_is_local(const char *host)
{
    char name[300];
    size_t n;
    if (*host == '[') {
        const char *close = strchr(host, ']');
        if (!close || (close[1] && close[1] != ':')) return false;
        n = (size_t)(close - host - 1);
        if (n >= sizeof name) return false;
        memcpy(name, host + 1, n);
        name[n] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    n = strcspn(host, ":");
    if (n >= sizeof name || (host[n] && strspn(host + n + 1, "0123456789") != strlen(host + n + 1))) return false;
    memcpy(name, host, n);
    name[n] = '\0';
    if (!strcasecmp(name, "localhost")) return true;
    struct in_addr a4;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool control_bearer_matches(const char *authorization, const char *token)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7)) return false;
    const char *t = authorization + 7;
    while (*t == ' ') t++;
    /* Every byte of the longer one is looked at, whatever differs first. */
    size_t n = strlen(t), m = strlen(token), most = n > m ? n : m;
    unsigned char diff = (unsigned char)(n != m) | (unsigned char)(m == 0);
    for (size_t i = 0; i < most; i++)
        diff |= (unsigned char)((i < n ? t[i] : 0) ^ (i < m ? token[i] : 0));
    return diff == 0;
}

bool control_bearer_ok(const control_auth *a, const char *authorization)
{
    return control_bearer_matches(authorization, a->token);
}
