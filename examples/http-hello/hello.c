/*
 * hello.c — the smallest HTTP app: WAGI runs it once per request; what it
 * prints on stdout is the response (headers, a blank line, the body).
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    const char *path = getenv("PATH_INFO");
    printf("Content-Type: text/plain; charset=utf-8\n\n");
    printf("Hello from Qyvol! You asked for '%s'.\n", path && *path ? path : "/");
    return 0;
}
