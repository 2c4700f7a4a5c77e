/*
 * token.h — the cluster token, as `qyv cluster init` writes it: one line
 * of printable ASCII in a file (mode 0600). The master, every node and the
 * CLI read it the same way.
 */
#ifndef QYVOL_CLUSTER_TOKEN_H
#define QYVOL_CLUSTER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* The token in file into out (size bytes). Only a regular file is read (a
 * FIFO would block). False with why: unreadable, empty, too long, or a
 * space or non-printable character in it. */
bool cluster_token_read(const char *file, char *out, size_t size, char *why, size_t whylen);

#endif
