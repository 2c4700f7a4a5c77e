/*
 * test_validate_corpus.c — decoding and validation against every module of
 * the official spec tests (wabt JSON in $QYVOL_SHARED/wasm-testsuite/
 * json-core, default ../shared): modules, and modules that must fail only
 * at link or instantiation time, must be accepted; assert_invalid and
 * binary assert_malformed modules must be rejected. For assert_invalid the
 * message must also begin with the expected text, as the reference
 * interpreter's harness requires.
 *
 * One cmocka test per script; each failure is printed with the script,
 * line and expected message. Text-format assert_malformed modules are not
 * ours to parse: they are counted as skipped.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/module.h"

typedef struct tally {
    unsigned accepted;           /* module, assert_unlinkable, assert_uninstantiable */
    unsigned invalid;            /* assert_invalid rejected (with the expected message) */
    unsigned invalid_by_decoder; /* ... of which the decoder rejected */
    unsigned message_unchecked;  /* ... of which the message cannot be checked */
    unsigned malformed;          /* binary assert_malformed rejected */
    unsigned skipped_text;       /* text assert_malformed */
    unsigned failures;
} tally;

static tally total;
static char corpus_dir[4096];

static uint8_t *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

typedef enum verdict { ACCEPTED, DECODE_FAILED, VALIDATE_FAILED, UNREADABLE } verdict;

static verdict check_module(const char *file, qv_error *err)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", corpus_dir, file);
    size_t len = 0;
    uint8_t *bytes = read_whole_file(path, &len);
    memset(err, 0, sizeof *err);
    if (!bytes) {
        snprintf(err->message, sizeof err->message, "cannot read %.200s", path);
        return UNREADABLE;
    }
    qe_module *m = qe_decode(bytes, len, err);
    free(bytes);
    if (!m) return DECODE_FAILED;
    bool ok = qe_validate(m, err);
    qe_module_free(m);
    return ok ? ACCEPTED : VALIDATE_FAILED;
}

/* assert_invalid commands whose expected message the binary cannot carry:
 * wast2json encodes `select (result)` (an empty result list) as the untyped
 * select, byte for byte the module of the "type mismatch" test before it. */
static const struct {
    const char *script;
    json_int_t line;
} message_not_in_binary[] = {
    {"select.json", 324},
};

static bool message_checkable(const char *script, json_int_t line)
{
    for (size_t i = 0; i < sizeof message_not_in_binary / sizeof message_not_in_binary[0]; i++)
        if (strcmp(message_not_in_binary[i].script, script) == 0 && message_not_in_binary[i].line == line)
            return false;
    return true;
}

static void failure(tally *t, const char *script, json_int_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s:%lld: ", script, (long long)line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    t->failures++;
}

static void run_command(tally *t, const char *script, json_t *cmd)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));
    const char *file = json_string_value(json_object_get(cmd, "filename"));
    const char *module_type = json_string_value(json_object_get(cmd, "module_type"));
    const char *text = json_string_value(json_object_get(cmd, "text"));
    json_int_t line = json_integer_value(json_object_get(cmd, "line"));
    if (!type) {
        failure(t, script, line, "command without a type");
        return;
    }
    bool must_accept = strcmp(type, "module") == 0 || strcmp(type, "assert_unlinkable") == 0 ||
                       strcmp(type, "assert_uninstantiable") == 0;
    bool is_invalid = strcmp(type, "assert_invalid") == 0;
    bool is_malformed = strcmp(type, "assert_malformed") == 0;
    if (!must_accept && !is_invalid && !is_malformed) return;
    if (!file) {
        failure(t, script, line, "%s without a filename", type);
        return;
    }
    if (module_type && strcmp(module_type, "text") == 0) {
        if (is_malformed)
            t->skipped_text++;
        else
            failure(t, script, line, "%s names a text module %s", type, file);
        return;
    }

    qv_error err;
    verdict v = check_module(file, &err);
    if (v == UNREADABLE) {
        failure(t, script, line, "%s", err.message);
    } else if (must_accept) {
        if (v == ACCEPTED)
            t->accepted++;
        else
            failure(t, script, line, "%s %s rejected at offset %zu (function %lld): %s", type, file, err.offset,
                    (long long)err.func_index, err.message);
    } else if (v == ACCEPTED) {
        failure(t, script, line, "%s %s accepted, expected \"%s\"", type, file, text ? text : "?");
    } else if (is_malformed) {
        t->malformed++;
    } else if (text && strncmp(err.message, text, strlen(text)) != 0 && message_checkable(script, line)) {
        failure(t, script, line, "assert_invalid %s rejected with \"%s\", expected \"%s\"", file, err.message, text);
    } else {
        t->invalid++;
        if (text && strncmp(err.message, text, strlen(text)) != 0) t->message_unchecked++;
        if (v == DECODE_FAILED) t->invalid_by_decoder++;
    }
}

static void check_script(void **state)
{
    const char *name = *state;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", corpus_dir, name);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!root) fail_msg("%s:%d: cannot parse JSON: %s", path, jerr.line, jerr.text);
    json_t *commands = json_object_get(root, "commands");
    if (!json_is_array(commands)) {
        json_decref(root);
        fail_msg("%s: no \"commands\" array", path);
    }
    tally t = {0};
    size_t i;
    json_t *cmd;
    json_array_foreach(commands, i, cmd) run_command(&t, name, cmd);
    json_decref(root);

    total.accepted += t.accepted;
    total.invalid += t.invalid;
    total.invalid_by_decoder += t.invalid_by_decoder;
    total.message_unchecked += t.message_unchecked;
    total.malformed += t.malformed;
    total.skipped_text += t.skipped_text;
    total.failures += t.failures;
    assert_int_equal(t.failures, 0);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .json scripts of the corpus, sorted; NULL if the folder is missing
 * or memory runs out. */
static char **list_scripts(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 128;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                ok = false;
                break;
            }
            names = p;
        }
        ok = (names[n++] = strdup(e->d_name)) != NULL;
    }
    closedir(d);
    if (!ok) {
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        return NULL;
    }
    qsort(names, n, sizeof *names, by_name);
    *count = n;
    return names;
}

int main(void)
{
    const char *shared = getenv("QYVOL_SHARED");
    snprintf(corpus_dir, sizeof corpus_dir, "%s/wasm-testsuite/json-core",
             shared && *shared ? shared : "../shared");
    size_t n = 0;
    char **names = list_scripts(corpus_dir, &n);
    if (!names || n == 0) {
        fprintf(stderr, "test_validate_corpus: no spec test scripts in %s (set QYVOL_SHARED)\n", corpus_dir);
        free(names);
        return 1;
    }
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    if (!tests) return 1;
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){.name = names[i], .test_func = check_script, .initial_state = names[i]};
    int failed = _cmocka_run_group_tests("validate_corpus", tests, n, NULL, NULL);
    printf("corpus: %u modules accepted; %u assert_invalid rejected (%u by the decoder, %u with a message the binary "
           "cannot carry); %u binary assert_malformed rejected; %u text assert_malformed skipped; %u failures\n",
           total.accepted, total.invalid, total.invalid_by_decoder, total.message_unchecked, total.malformed,
           total.skipped_text, total.failures);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(tests);
    return failed;
}
