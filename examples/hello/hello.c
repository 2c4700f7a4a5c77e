/*
 * hello.c — the smallest Qyvol app: greets, shows the arguments and one
 * environment variable it got from its manifest (app.qyv).
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *greeting = getenv("GREETING");
    printf("%s from Qyvol!\n", greeting ? greeting : "Hello");
    printf("args:");
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    return 0;
}
