/*
 * capacity.c — see capacity.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/capacity.h"
#include "manifest/units.h"

bool capacity_parse(const char *text, node_capacity *out, char *why, size_t whylen)
{
    node_capacity c = {0};
    char *copy = strdup(text), *save = NULL;
    if (!copy) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    bool ok = true, any = false;
    for (char *part = strtok_r(copy, ",", &save); part && ok; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        char detail[200];
        any = true;
        if (!eq) {
            snprintf(why, whylen, "'%s' is not KEY=VALUE (memory=SIZE or cpu=N)", part);
            ok = false;
        } else if (*eq = '\0', !strcmp(part, "memory")) {
            ok = qv_parse_size(eq + 1, &c.memory, detail, sizeof detail) && c.memory > 0;
            if (!ok) snprintf(why, whylen, "memory '%s' %s", eq + 1, c.memory ? detail : "must be more than 0");
        } else if (!strcmp(part, "cpu")) {
            ok = qv_parse_cpu(eq + 1, &c.cpu, detail, sizeof detail);
            if (!ok) snprintf(why, whylen, "cpu '%s' %s", eq + 1, detail);
        } else {
            snprintf(why, whylen, "unknown capacity '%s' (memory or cpu)", part);
            ok = false;
        }
    }
    free(copy);
    if (ok && !any) {
        snprintf(why, whylen, "empty: give memory=SIZE, cpu=N or both");
        ok = false;
    }
    if (ok) *out = c;
    return ok;
}

bool capacity_meminfo(const char *text, uint64_t *bytes)
{
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        uint64_t kib;
        if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1) {
            *bytes = kib * 1024;
            return true;
        }
    }
    return false;
}

/* A whole small file as text. */
static bool read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

void capacity_detect(node_capacity *c)
{
    if (!c->cpu) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->cpu = (uint32_t)(n > 0 ? n : 1) * 1000u;
    }
    if (!c->memory) {
        char text[8192];
        uint64_t total = 0;
        if (read_text("/proc/meminfo", text, sizeof text)) capacity_meminfo(text, &total);
        /* Confined to a cgroup with less: that is what there is. */
        char limit[64];
        if (read_text("/sys/fs/cgroup/memory.max", limit, sizeof limit) && strncmp(limit, "max", 3)) {
            uint64_t max = strtoull(limit, NULL, 10);
            if (max && (!total || max < total)) total = max;
        }
        c->memory = total ? total : (uint64_t)1 << 30;
    }
}
