/*
 * test_decode_corpus.c — the decoder and the instruction reader against
 * every binary module of the official spec tests (wabt JSON form).
 *
 * Well-formed modules must decode, and each function body and constant
 * expression must read through qe_instr_next up to its final `end`.
 * Every assert_malformed binary must fail in qe_decode or while reading a
 * body, with the suite's wording, except the failures that belong to the
 * validator (LEFT_TO_VALIDATOR below).
 *
 * The corpus is $QYVOL_SHARED/wasm-testsuite/json-core, by default
 * ../shared relative to the working directory (the repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/module.h"

/* Malformations seen only by noticing which instructions a body uses:
 * the validator's job, since it makes the one full pass over every body. */
static const char *const LEFT_TO_VALIDATOR[] = {
    "data count section required", /* memory.init / data.drop without a datacount section */
};

/* Rejected, with other wording. Each is a body missing its final `end`:
 * we read a body within its declared size and run out of it ("unexpected
 * end of section or function"), where the reference decoder reads on
 * into the bytes that follow and stumbles there. */
static const char *const OTHER_WORDING[] = {
    "binary.37.wasm", /* "END opcode expected": it reads the next body's size byte */
    "binary.39.wasm", /* "section size mismatch": it takes the next section id 0x0b for `end` */
};

static char corpus[4096];

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1))) {
        if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
            *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

typedef struct outcome {
    enum { DECODED, DECODE_FAILED, INSTR_FAILED, UNTERMINATED } kind;
    char message[512];
} outcome;

/* Read [start, end) as instructions: the range must close its outermost
 * block with an `end` that is its last byte. */
static bool read_through(const qe_module *m, uint32_t start, uint32_t end, outcome *o)
{
    qe_instr_reader ir;
    qe_instr in = {0};
    qe_instr_reader_init(&ir, m, start, end);
    uint32_t depth = 1;
    bool ok = true;
    while (depth > 0) {
        if (!qe_instr_next(&ir, &in)) {
            o->kind = INSTR_FAILED;
            snprintf(o->message, sizeof o->message, "%s (offset %zu)", ir.r.err, ir.r.err_offset);
            ok = false;
            break;
        }
        if (in.op == QE_OP_BLOCK || in.op == QE_OP_LOOP || in.op == QE_OP_IF) depth++;
        if (in.op == QE_OP_END) depth--;
    }
    if (ok && !qe_reader_at_end(&ir.r)) {
        o->kind = UNTERMINATED;
        snprintf(o->message, sizeof o->message, "outermost end at offset %u, range ends at %u", in.offset,
                 end);
        ok = false;
    }
    qe_instr_reader_free(&ir);
    return ok;
}

static bool read_expr(const qe_module *m, qe_expr e, outcome *o)
{
    return read_through(m, e.start, e.start + e.len, o);
}

static bool read_all_code(const qe_module *m, outcome *o)
{
    for (uint32_t i = 0; i < m->nglobals - m->nglobal_imports; i++)
        if (!read_expr(m, m->globals[i].init, o)) return false;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const qe_elem *e = &m->elems[i];
        if (e->mode == QE_SEG_ACTIVE && !read_expr(m, e->offset, o)) return false;
        for (uint32_t k = 0; k < e->count; k++)
            if (e->items[k].is_expr && !read_expr(m, e->items[k].expr, o)) return false;
    }
    for (uint32_t i = 0; i < m->ndatas; i++)
        if (m->datas[i].mode == QE_SEG_ACTIVE && !read_expr(m, m->datas[i].offset, o)) return false;
    for (uint32_t i = 0; i < m->ncodes; i++)
        if (!read_through(m, m->codes[i].body_start, m->codes[i].body_end, o)) return false;
    return true;
}

static outcome decode_file(const char *file)
{
    outcome o = {DECODED, ""};
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", corpus, file);
    size_t len = 0;
    uint8_t *bytes = load(path, &len);
    if (!bytes) {
        o.kind = DECODE_FAILED;
        snprintf(o.message, sizeof o.message, "cannot read %.400s", path);
        return o;
    }
    qv_error err = {0};
    qe_module *m = qe_decode(bytes, len, &err);
    free(bytes);
    if (!m) {
        o.kind = DECODE_FAILED;
        snprintf(o.message, sizeof o.message, "%s (offset %zu)", err.message, (size_t)err.offset);
        return o;
    }
    read_all_code(m, &o);
    qe_module_free(m);
    return o;
}

/* Whether the outcome's message says `text`: as the reference test runner
 * does, the expected text may be followed by more words ("unexpected end"
 * matches "unexpected end of section or function"). */
static bool message_is(const outcome *o, const char *text)
{
    size_t n = strlen(text);
    return strncmp(o->message, text, n) == 0 && (o->message[n] == 0 || o->message[n] == ' ');
}

typedef struct tally {
    unsigned modules, modules_ok;          /* well-formed: module, assert_invalid, ... */
    unsigned invalid_caught;               /* assert_invalid refused early with the suite's words */
    unsigned malformed, rejected, other_wording, for_validator;
    unsigned failures;
} tally;

static bool is(const char *s, const char *want) { return s && strcmp(s, want) == 0; }

/* Modules that are well formed (valid or not) must decode and read
 * through. An invalid one may be refused by the instruction reader if it
 * says what the validator would: select's arity is checked as its type
 * vector is read. */
static void check_well_formed(const char *json_name, int line, const char *file, const char *invalid_text,
                              tally *t)
{
    t->modules++;
    outcome o = decode_file(file);
    if (o.kind == DECODED) {
        t->modules_ok++;
    } else if (invalid_text && o.kind == INSTR_FAILED && message_is(&o, invalid_text)) {
        t->modules_ok++;
        t->invalid_caught++;
    } else {
        t->failures++;
        printf("%s:%d: well-formed module %s: %s\n", json_name, line, file, o.message);
    }
}

static void check_malformed(const char *json_name, int line, const char *file, const char *text, tally *t)
{
    t->malformed++;
    outcome o = decode_file(file);
    bool rejected = o.kind == DECODE_FAILED || o.kind == INSTR_FAILED;
    if (listed(LEFT_TO_VALIDATOR, COUNT(LEFT_TO_VALIDATOR), text)) {
        if (rejected) { /* keeps the exception list honest */
            t->failures++;
            printf("%s:%d: %s: listed as the validator's (\"%s\") but rejected here: %s\n", json_name, line,
                   file, text, o.message);
        } else {
            t->for_validator++;
        }
    } else if (!rejected) {
        t->failures++;
        printf("%s:%d: %s: accepted, expected \"%s\"%s%s\n", json_name, line, file, text,
               o.kind == UNTERMINATED ? ": " : "", o.message);
    } else if (listed(OTHER_WORDING, COUNT(OTHER_WORDING), file)) {
        t->other_wording++;
        if (message_is(&o, text)) { /* keeps the list honest */
            t->failures++;
            printf("%s:%d: %s: listed as worded otherwise, but says \"%s\"\n", json_name, line, file, text);
        }
    } else if (!message_is(&o, text)) {
        t->failures++;
        printf("%s:%d: %s: expected \"%s\", got \"%s\"\n", json_name, line, file, text, o.message);
    } else {
        t->rejected++;
    }
}

static void check_command(const char *json_name, json_t *cmd, tally *t)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));
    const char *file = json_string_value(json_object_get(cmd, "filename"));
    const char *module_type = json_string_value(json_object_get(cmd, "module_type"));
    const char *text = json_string_value(json_object_get(cmd, "text"));
    int line = (int)json_integer_value(json_object_get(cmd, "line"));
    if (!file) return;
    if (is(type, "module") || is(type, "assert_unlinkable") || is(type, "assert_uninstantiable"))
        check_well_formed(json_name, line, file, NULL, t);
    else if (is(type, "assert_invalid") && is(module_type, "binary") && text)
        check_well_formed(json_name, line, file, text, t);
    else if (is(type, "assert_malformed") && is(module_type, "binary") && text)
        check_malformed(json_name, line, file, text, t);
}

static int is_json(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static void spec_corpus(void **state)
{
    (void)state;
    struct dirent **names = NULL;
    int n = scandir(corpus, &names, is_json, alphasort);
    if (n <= 0) fail_msg("no spec test JSON files in %s (set QYVOL_SHARED)", corpus);
    tally t = {0};
    for (int i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", corpus, names[i]->d_name);
        json_error_t jerr;
        json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
        if (!root) {
            printf("%s:%d: %s\n", path, jerr.line, jerr.text);
            t.failures++;
        } else {
            size_t k;
            json_t *cmd;
            json_array_foreach(json_object_get(root, "commands"), k, cmd) check_command(names[i]->d_name, cmd, &t);
            json_decref(root);
        }
        free(names[i]);
    }
    free(names);
    printf("%d scripts; well-formed modules: %u/%u decoded and read through "
           "(%u of the invalid ones refused early, with the suite's wording)\n",
           n, t.modules_ok, t.modules, t.invalid_caught);
    printf("binary assert_malformed: %u/%u rejected by the decoder or instruction reader with the "
           "suite's wording, %u with other wording as listed, %u left to the validator as listed\n",
           t.rejected, t.malformed, t.other_wording, t.for_validator);
    assert_int_equal(t.failures, 0);
    assert_true(t.modules > 0 && t.malformed > 0);
}

int main(void)
{
    const char *shared = getenv("QYVOL_SHARED");
    snprintf(corpus, sizeof corpus, "%s/wasm-testsuite/json-core", shared && *shared ? shared : "../shared");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
