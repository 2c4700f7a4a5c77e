/*
 * grants.c — a guest that checks, from the inside, what the manifest's map
 * form of permissions.fs grants (run by run.sh with app.qyv):
 *   read:    /app/data, /app/config
 *   write:   /app/data, /app/logs        (so /app/data is read-write)
 *   exclude: /app/data/secrets
 * Prints "ok NAME" or "FAIL NAME: why" per check and ends with
 * "N passed, N failed, 0 skipped"; exits 1 if anything failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int passed, failed;

static void check(const char *name, int ok, const char *why)
{
    if (ok) {
        printf("ok %s\n", name);
        passed++;
    } else {
        printf("FAIL %s: %s\n", name, why);
        failed++;
    }
}

/* open() must fail with `want` (0: any error). */
static void refused(const char *name, const char *path, int flags, int want)
{
    errno = 0;
    int fd = open(path, flags, 0644);
    int e = errno;
    if (fd >= 0) close(fd);
    char why[160];
    snprintf(why, sizeof why, "open(%s) gave %s", path, fd >= 0 ? "a descriptor" : strerror(e));
    check(name, fd < 0 && (!want || e == want), why);
}

static int read_text(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    int err = ferror(f);
    fclose(f);
    return err ? -1 : (int)got;
}

static int listed(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (!strcmp(e->d_name, name)) found = 1;
    closedir(d);
    return found;
}

int main(void)
{
    char buf[256];
    check("read a granted file", read_text("/app/data/public.txt", buf, sizeof buf) > 0 &&
                                     !strcmp(buf, "public\n"), "cannot read /app/data/public.txt");
    check("read config", read_text("/app/config/settings.txt", buf, sizeof buf) > 0, "cannot read config");

    refused("hidden file is absent", "/app/data/secrets/key.txt", O_RDONLY, ENOENT);
    refused("hidden folder is absent", "/app/data/secrets", O_RDONLY | O_DIRECTORY, ENOENT);
    refused("hidden through a symlink", "/app/data/link_to_secret", O_RDONLY, ENOENT);
    refused("hidden through a symlinked folder", "/app/data/secrets_link/key.txt", O_RDONLY, ENOENT);
    refused("hidden through ..", "/app/data/sub/../secrets/key.txt", O_RDONLY, ENOENT);
    refused("create inside hidden", "/app/data/secrets/new.txt", O_WRONLY | O_CREAT, ENOENT);
    check("listing leaves hidden out", listed("/app/data", "secrets") == 0, "secrets listed");
    check("listing shows the rest", listed("/app/data", "public.txt") == 1, "public.txt missing");

    errno = 0;
    int r = rename("/app/data/secrets", "/app/data/moved");
    check("hidden folder cannot be renamed", r != 0, "rename succeeded");
    errno = 0;
    r = rename("/app/data/sub", "/app/data/secrets");
    check("nothing can be renamed onto a hidden path", r != 0, "rename succeeded");

    refused("config is read-only (create)", "/app/config/new.txt", O_WRONLY | O_CREAT, EROFS);
    refused("config is read-only (write)", "/app/config/settings.txt", O_WRONLY, EROFS);
    refused("config is read-only (truncate)", "/app/config/settings.txt", O_RDWR | O_TRUNC, EROFS);
    check("config is read-only (mkdir)", mkdir("/app/config/d", 0755) != 0, "mkdir succeeded");
    check("config is read-only (unlink)", unlink("/app/config/settings.txt") != 0, "unlink succeeded");

    int fd = open("/app/logs/out.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
    check("logs are writable", fd >= 0 && write(fd, "line\n", 5) == 5, strerror(errno));
    if (fd >= 0) close(fd);
    refused("logs are write-only (read)", "/app/logs/out.log", O_RDONLY, EACCES);
    refused("logs are write-only (read-write)", "/app/logs/out.log", O_RDWR, EACCES);
    check("logs are write-only (list)", listed("/app/logs", "out.log") != 1, "listing succeeded");

    fd = open("/app/data/sub/made.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check("data is read-write", fd >= 0 && write(fd, "made\n", 5) == 5, strerror(errno));
    if (fd >= 0) close(fd);

    refused("the app folder itself is not granted", "/app/app.qyv", O_RDONLY, 0);
    refused("nothing outside /app", "/etc/passwd", O_RDONLY, 0);

    printf("%d passed, %d failed, 0 skipped\n", passed, failed);
    return failed ? 1 : 0;
}
