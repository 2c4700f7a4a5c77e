/*
 * run_config.c — building a run_config piece by piece.
 */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"

static bool append(char ***list, size_t *n, char *s)
{
    if (!s) return false;
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown) {
        free(s);
        return false;
    }
    grown[(*n)++] = s;
    *list = grown;
    return true;
}

bool run_add_arg(run_config *rc, const char *arg)
{
    return append(&rc->args, &rc->nargs, strdup(arg));
}

bool run_add_warning(run_config *rc, const char *line)
{
    return append(&rc->warnings, &rc->nwarnings, strdup(line));
}

bool run_set_env(run_config *rc, const char *kv)
{
    size_t key = strcspn(kv, "=");
    for (size_t i = 0; i < rc->nenv; i++) {
        if (!strncmp(rc->env[i], kv, key) && rc->env[i][key] == '=') {
            char *s = strdup(kv);
            if (!s) return false;
            free(rc->env[i]);
            rc->env[i] = s;
            return true;
        }
    }
    return append(&rc->env, &rc->nenv, strdup(kv));
}

char *run_own(run_config *rc, char *s)
{
    return append(&rc->owned, &rc->nowned, s) ? s : NULL;
}

bool run_add_preopen(run_config *rc, const char *host, const char *guest, unsigned access,
                     char **hidden, size_t nhidden)
{
    if (!run_own(rc, (char *)host) || !run_own(rc, (char *)guest)) return false;
    for (size_t i = 0; i < nhidden; i++)
        if (!run_own(rc, hidden[i])) return false;
    if (hidden && !run_own(rc, (char *)hidden)) return false;
    qv_wasi_preopen *grown = realloc(rc->preopens, (rc->npreopens + 1) * sizeof *grown);
    if (!grown) return false;
    grown[rc->npreopens++] = (qv_wasi_preopen){
        .host_path = host,
        .guest_path = guest,
        .access = access,
        .hidden = (const char *const *)hidden,
        .nhidden = nhidden,
    };
    rc->preopens = grown;
    return true;
}

void run_config_free(run_config *rc)
{
    for (size_t i = 0; i < rc->nargs; i++) free(rc->args[i]);
    for (size_t i = 0; i < rc->nenv; i++) free(rc->env[i]);
    for (size_t i = 0; i < rc->nowned; i++) free(rc->owned[i]);
    for (size_t i = 0; i < rc->nwarnings; i++) free(rc->warnings[i]);
    free(rc->warnings);
    free(rc->args);
    free(rc->env);
    free(rc->owned);
    free(rc->preopens);
    free(rc->module_path);
    free(rc->label);
    free(rc->scratch);
    free(rc->name);
    free(rc->route);
    free(rc->health_path);
    memset(rc, 0, sizeof *rc);
}
