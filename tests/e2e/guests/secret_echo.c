/*
 * secret_echo.c — an HTTP guest (WAGI) that shows what the cluster gave
 * it: the env value DB_PASSWORD, the file /secrets/api/key, and whether
 * it may write beside that file (it must not: secrets are read-only). The
 * secrets' end-to-end test (tests/e2e/secrets.sh) deploys it.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    const char *env = getenv("DB_PASSWORD");
    char file[256] = "";
    FILE *f = fopen("/secrets/api/key", "r");
    if (f) {
        size_t n = fread(file, 1, sizeof file - 1, f);
        file[n] = 0;
        fclose(f);
    }
    FILE *w = fopen("/secrets/api/written", "w");
    printf("Content-Type: text/plain\n\nenv=%s\nfile=%s\nwrite=%s\n", env ? env : "(none)", f ? file : "(none)",
           w ? "allowed" : "refused");
    if (w) fclose(w);
    return 0;
}
