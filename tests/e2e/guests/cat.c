/*
 * cat.c — prints the files named by its arguments, each as
 * "== PATH" then its bytes, or "== PATH: cannot open: REASON": how the
 * hardening tests (tests/e2e/harden.sh) see what a guest can reach. Under
 * qyv serve (REQUEST_METHOD set) it answers with a CGI header first, and
 * its arguments are the query's items.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (getenv("REQUEST_METHOD")) printf("Content-Type: text/plain\n\n");
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            printf("== %s: cannot open: %s\n", argv[i], strerror(errno));
            continue;
        }
        printf("== %s\n", argv[i]);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    return 0;
}
