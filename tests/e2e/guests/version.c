/*
 * version.c — the guest of the rollout test (tests/e2e/rollout.sh): it
 * answers "version: V" where V is its VERSION variable, so that every
 * answer says which revision of the app gave it. BROKEN=500 makes every
 * answer but its health check's a 500 (a release that gets ready and then
 * fails its users); BROKEN=health makes only its health check (/health)
 * fail (a release that never gets ready).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    const char *version = getenv("VERSION"), *broken = getenv("BROKEN"), *path = getenv("PATH_INFO");
    bool health = path && !strcmp(path, "/health");
    bool fail = broken && (!strcmp(broken, "500") ? !health : !strcmp(broken, "health") && health);
    printf("Content-Type: text/plain\n");
    if (fail) printf("Status: 500 broken on purpose\n");
    printf("\nversion: %s\n", version ? version : "none");
    return 0;
}
