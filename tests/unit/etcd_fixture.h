/*
 * etcd_fixture.h — a one-member etcd for unit tests (test_store.c,
 * test_tls_state.c): started on free loopback ports in a temporary folder,
 * stopped and removed after. Include after <cmocka.h> and cluster/store.h.
 */
#ifndef QYVOL_TEST_ETCD_FIXTURE_H
#define QYVOL_TEST_ETCD_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The etcd the tests run against ("127.0.0.1:PORT"), or "" for SQLite. */
static char g_etcd[64];

/* A TCP port nothing listens on now. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct etcd_proc {
    pid_t pid;
    char dir[64];
} etcd_proc;

/* Start etcd in a temporary folder on free ports; wait (10 s at most)
 * until it answers. False, saying why, when it cannot. */
static bool etcd_start(etcd_proc *e)
{
    if (access("/usr/bin/etcd", X_OK) != 0) {
        printf("SKIP etcd store tests: /usr/bin/etcd is missing (Debian package etcd-server)\n");
        return false;
    }
    snprintf(e->dir, sizeof e->dir, "/tmp/qyvol-etcd-XXXXXX");
    if (!mkdtemp(e->dir))
        return false;
    int client = closed_port(), peer = closed_port();
    char data[96], log[96], curls[64], purls[64], cluster[96];
    snprintf(data, sizeof data, "%s/data", e->dir);
    snprintf(log, sizeof log, "%s/log", e->dir);
    snprintf(curls, sizeof curls, "http://127.0.0.1:%d", client);
    snprintf(purls, sizeof purls, "http://127.0.0.1:%d", peer);
    snprintf(cluster, sizeof cluster, "default=%s", purls);
    e->pid = fork();
    if (e->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/usr/bin/etcd", "etcd", "--data-dir", data, "--listen-client-urls", curls, "--advertise-client-urls",
              curls, "--listen-peer-urls", purls, "--initial-advertise-peer-urls", purls, "--initial-cluster",
              cluster, "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "error",
              (char *)NULL);
        _exit(127);
    }
    snprintf(g_etcd, sizeof g_etcd, "127.0.0.1:%d", client);
    char url[96];
    snprintf(url, sizeof url, "etcd://%s", g_etcd);
    for (int i = 0; i < 100; i++) {
        store_status st;
        store *s = store_open(url, &st);
        if (s) {
            store_close(s);
            return true;
        }
        usleep(100 * 1000);
    }
    printf("etcd did not answer at %s within 10 s (see %s)\n", g_etcd, log);
    return false;
}

/* SIGTERM, then SIGKILL after 5 s; the folder removed. */
static void etcd_stop(etcd_proc *e)
{
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        int status;
        for (int i = 0; i < 50 && waitpid(e->pid, &status, WNOHANG) == 0; i++)
            usleep(100 * 1000);
        if (waitpid(e->pid, &status, WNOHANG) == 0) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, &status, 0);
        }
    }
    if (*e->dir) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            printf("cannot remove %s\n", e->dir);
    }
    g_etcd[0] = '\0';
}

#endif
