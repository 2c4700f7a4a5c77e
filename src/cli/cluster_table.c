/*
 * cluster_table.c — the cluster commands' tables: columns as wide as
 * their widest cell, two spaces apart; and sizes, CPU amounts and ages
 * written for people.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cluster_cli.h"

void cluster_table_init(cluster_table *t, const char *const *head, size_t columns)
{
    *t = (cluster_table){.columns = columns};
    for (size_t i = 0; i < columns; i++) cluster_table_cell(t, "%s", head[i]);
}

void cluster_table_cell(cluster_table *t, const char *fmt, ...)
{
    size_t n = t->ncells;
    if (n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells) return;
        t->cells = cells, t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&t->cells[n], fmt, ap) < 0) t->cells[n] = NULL;
    va_end(ap);
    t->ncells++;
}

void cluster_table_print(cluster_table *t)
{
    size_t cells = t->ncells, cols = t->columns;
    size_t *width = calloc(cols, sizeof *width);
    for (size_t i = 0; width && i < cells; i++) {
        size_t w = t->cells[i] ? strlen(t->cells[i]) : 0;
        if (w > width[i % cols]) width[i % cols] = w;
    }
    for (size_t i = 0; width && i < cells; i++) {
        const char *cell = t->cells[i] ? t->cells[i] : "";
        bool last = i % cols == cols - 1 || i == cells - 1;
        if (last) printf("%s\n", cell);
        else printf("%-*s  ", (int)width[i % cols], cell);
    }
    free(width);
    cluster_table_free(t);
}

void cluster_table_free(cluster_table *t)
{
    for (size_t i = 0; i < t->ncells; i++) free(t->cells[i]);
    free(t->cells);
    *t = (cluster_table){0};
}

void cluster_format_bytes(uint64_t bytes, char *out, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    uint64_t v = bytes;
    while (u < 4 && v >= 1024 && v % 1024 == 0) v /= 1024, u++;
    if (v < 1024 || u == 4) {
        snprintf(out, size, "%llu%s", (unsigned long long)v, units[u]);
        return;
    }
    double d = (double)bytes;
    for (u = 0; u < 4 && d >= 1024; u++) d /= 1024;
    snprintf(out, size, "%.1f%s", d, units[u]);
}

void cluster_format_cpu(uint64_t millicores, char *out, size_t size)
{
    if (millicores % 1000 == 0) snprintf(out, size, "%llu", (unsigned long long)(millicores / 1000));
    else snprintf(out, size, "%.3g", (double)millicores / 1000);
}

void cluster_format_age(uint64_t ms, char *out, size_t size)
{
    if (ms < 1000) snprintf(out, size, "%llums", (unsigned long long)ms);
    else if (ms < 60000) snprintf(out, size, "%.1fs", (double)ms / 1000);
    else if (ms < 3600000) snprintf(out, size, "%llum%llus", (unsigned long long)(ms / 60000), (unsigned long long)(ms / 1000 % 60));
    else snprintf(out, size, "%lluh%llum", (unsigned long long)(ms / 3600000), (unsigned long long)(ms / 60000 % 60));
}
