/*
 * files.c — what the sandbox grants and refuses, seen from inside. Its
 * manifest (app.qyv) grants /app/config for reading (hiding
 * /app/config/secret.conf) and /app/logs for writing, nothing else.
 * The app reads its configuration, appends to its log, and checks that
 * everything else is refused. Exits 0 only if all of that held.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int problems;

/* An attempt that must fail. */
static void expect_refused(const char *what, int result)
{
    if (result < 0) {
        printf("refused: %s: %s\n", what, strerror(errno));
    } else {
        printf("NOT REFUSED: %s\n", what);
        problems++;
    }
}

static int try_open(const char *path, int flags)
{
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

int main(void)
{
    char line[256];
    FILE *conf = fopen("/app/config/app.conf", "r");
    if (!conf) {
        printf("cannot read /app/config/app.conf: %s\n", strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof line, conf)) printf("config: %s", line);
    fclose(conf);

    DIR *dir = opendir("/app/config");
    if (dir) {
        struct dirent *e;
        printf("/app/config holds:");
        while ((e = readdir(dir)))
            if (e->d_name[0] != '.') printf(" %s", e->d_name);
        printf("\n");
        closedir(dir);
    } else {
        printf("cannot list /app/config: %s\n", strerror(errno));
        problems++;
    }

    FILE *log = fopen("/app/logs/app.log", "a");
    if (log) {
        fprintf(log, "started at %lld\n", (long long)time(NULL));
        fclose(log);
        printf("appended a line to /app/logs/app.log\n");
    } else {
        printf("cannot write /app/logs/app.log: %s\n", strerror(errno));
        problems++;
    }

    expect_refused("read /app/config/secret.conf (excluded)", try_open("/app/config/secret.conf", O_RDONLY));
    expect_refused("read /app/secrets/token (not granted)", try_open("/app/secrets/token", O_RDONLY));
    expect_refused("write /app/config/app.conf (read-only)", try_open("/app/config/app.conf", O_WRONLY));
    expect_refused("create /app/config/new.conf (read-only)", try_open("/app/config/new.conf", O_WRONLY | O_CREAT));
    expect_refused("read /app/logs/app.log (write-only)", try_open("/app/logs/app.log", O_RDONLY));
    expect_refused("open /etc/passwd", try_open("/etc/passwd", O_RDONLY));
    expect_refused("open /app/config/../../../etc/passwd", try_open("/app/config/../../../etc/passwd", O_RDONLY));
    expect_refused("open /app/config/../secrets/token", try_open("/app/config/../secrets/token", O_RDONLY));
    /* Relative paths resolve against the current directory, which cannot
     * lead out either. */
    expect_refused("open ../../etc/passwd", try_open("../../etc/passwd", O_RDONLY));
    if (chdir("/app/config") == 0) {
        expect_refused("open ../../etc/passwd from /app/config", try_open("../../etc/passwd", O_RDONLY));
        expect_refused("open ../secrets/token from /app/config", try_open("../secrets/token", O_RDONLY));
        if (try_open("app.conf", O_RDONLY) < 0) {
            printf("cannot open app.conf from /app/config: %s\n", strerror(errno));
            problems++;
        }
    }

    printf(problems ? "%d problem(s)\n" : "the sandbox held\n", problems);
    return problems ? 1 : 0;
}
