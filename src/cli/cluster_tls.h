/*
 * cluster_tls.h — the commands' side of the cluster's TLS
 * (cluster_tls.c): what `init`, `token create`, `add-node` and `auth`
 * do with certificates.
 */
#ifndef QYVOL_CLI_CLUSTER_TLS_H
#define QYVOL_CLI_CLUSTER_TLS_H

#include <stdbool.h>

#include "cli/cluster_cli.h"

/* A new cluster CA (P-256, 10 years) and the master's certificate for
 * listen_host, the comma-separated advertise names, localhost and
 * 127.0.0.1, in the configuration folder: ca.crt, ca.key, master.pem
 * (0600). pin: the CA's "sha256:HEX". False after saying why. */
bool cluster_tls_init(cluster_ctx *ctx, const char *listen_host, const char *advertise, char pin[80]);

/* `qyv cluster token create`. */
int cluster_token(cluster_ctx *ctx, int argc, char **argv);
/* A join token and the command that uses it (`add-node` without an address). */
int cluster_join_command(cluster_ctx *ctx);

/* `qyv cluster auth --cert --key | --rotate | --revoke NODE|SERIAL`. */
int cluster_auth_tls(cluster_ctx *ctx, const char *cert, const char *key, bool rotate, const char *revoke);

#endif
