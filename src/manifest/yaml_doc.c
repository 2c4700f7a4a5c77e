/*
 * yaml_doc.c — libyaml's document loader, with its errors turned into
 * "FILE:LINE:COLUMN: ..." messages, and the document-level rules: exactly
 * one document, no tags beyond YAML's defaults.
 */
#include <string.h>

#include "parse.h"

/* libyaml reports encoding errors as a byte offset only: find the line and
 * column (in characters, as its marks count) of that byte. */
static void position_of(const char *text, size_t len, size_t offset, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || (c == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            (*line)++;
            *column = 1;
        } else if ((c & 0xC0) != 0x80 && c != '\r') {
            (*column)++;
        }
    }
}

static void report_parser_error(const yaml_parser_t *parser, const char *text, size_t len,
                                const char *file, qv_manifest_error *err)
{
    const char *problem = parser->problem ? parser->problem : "cannot be parsed";
    if (parser->error == YAML_MEMORY_ERROR) {
        mf_set_error(err, file, 0, 0, "out of memory");
        return;
    }
    if (parser->error == YAML_READER_ERROR) {
        size_t line, column;
        position_of(text, len, parser->problem_offset, &line, &column);
        mf_set_error(err, file, line, column, "invalid YAML: %s; a manifest must be UTF-8 text",
                     problem);
        return;
    }
    size_t line = parser->problem_mark.line + 1, column = parser->problem_mark.column + 1;
    /* libyaml says what it found; for the common mistakes, also say what
     * was expected. */
    const char *hint = "";
    size_t at = parser->problem_mark.index;
    if (at < len && text[at] == '\t')
        hint = "; YAML does not allow tabs for indentation";
    else if (strcmp(problem, "mapping values are not allowed in this context") == 0)
        hint = "; check the indentation, or quote a value that contains ': '";
    else if (strcmp(problem, "found undefined alias") == 0)
        hint = "; an alias (*name) must follow its anchor (&name)";
    if (parser->context)
        mf_set_error(err, file, line, column, "invalid YAML: %s (%s at line %zu, column %zu)%s",
                     problem, parser->context, parser->context_mark.line + 1,
                     parser->context_mark.column + 1, hint);
    else
        mf_set_error(err, file, line, column, "invalid YAML: %s%s", problem, hint);
}

/* Tags written in the file ("!!int 3", "!secret x") would change what a
 * value means; only the implicit defaults are accepted. */
static bool check_tags(const yaml_document_t *doc, const char *file, qv_manifest_error *err)
{
    for (const yaml_node_t *node = doc->nodes.start; node < doc->nodes.top; node++) {
        const char *tag = (const char *)node->tag;
        const char *usual = node->type == YAML_SCALAR_NODE     ? YAML_DEFAULT_SCALAR_TAG
                            : node->type == YAML_SEQUENCE_NODE ? YAML_DEFAULT_SEQUENCE_TAG
                                                               : YAML_DEFAULT_MAPPING_TAG;
        if (tag && strcmp(tag, usual) != 0) {
            /* Show core tags as written ("!!int"), not expanded. */
            char shown[MF_QUOTE_SIZE + 2] = "";
            const char *core = "tag:yaml.org,2002:";
            size_t core_len = strlen(core);
            if (strncmp(tag, core, core_len) == 0) {
                memcpy(shown, "!!", 3);
                mf_quote(tag + core_len, strlen(tag + core_len), shown + 2, MF_QUOTE_SIZE);
            } else {
                mf_quote(tag, strlen(tag), shown, MF_QUOTE_SIZE);
            }
            mf_set_error(err, file, node->start_mark.line + 1, node->start_mark.column + 1,
                         "YAML tags such as '%s' are not supported; write the value without one", shown);
            return false;
        }
    }
    return true;
}

/* UTF-8 only (docs/manifest.md): libyaml would also take UTF-16, and
 * would stop reading at a NUL byte without a word. And no long runs of
 * blanks, which make libyaml slow. */
static bool check_text(const char *text, size_t len, const char *file, qv_manifest_error *err)
{
    const unsigned char *u = (const unsigned char *)text;
    if (len >= 2 && ((u[0] == 0xFE && u[1] == 0xFF) || (u[0] == 0xFF && u[1] == 0xFE))) {
        mf_set_error(err, file, 1, 1, "the manifest is UTF-%s text (it starts with a byte order mark); a "
                     "manifest must be UTF-8", len >= 4 && u[0] == 0xFF && !u[2] && !u[3] ? "32" : "16");
        return false;
    }
    const char *nul = memchr(text, 0, len);
    if (nul) {
        size_t line, column;
        position_of(text, len, (size_t)(nul - text), &line, &column);
        mf_set_error(err, file, line, column, "the manifest holds a NUL byte (UTF-16 or UTF-32 text, or not "
                     "text at all); a manifest must be UTF-8");
        return false;
    }
    /* Runs of blanks (QV_MANIFEST_MAX_BLANK_RUN). */
    size_t spaces = 0, blank_lines = 0;
    bool line_blank = true;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        const char *what = NULL;
        if (c == ' ' || c == '\t') {
            if (++spaces > QV_MANIFEST_MAX_BLANK_RUN) what = "spaces or tabs";
        } else if (c == '\n') {
            spaces = 0;
            blank_lines = line_blank ? blank_lines + 1 : 0;
            line_blank = true;
            if (blank_lines > QV_MANIFEST_MAX_BLANK_RUN) what = "blank lines";
        } else if (c != '\r') {
            spaces = 0;
            line_blank = false;
        }
        if (what) {
            size_t line, column;
            position_of(text, len, i, &line, &column);
            mf_set_error(err, file, line, column, "more than %u %s in a row", QV_MANIFEST_MAX_BLANK_RUN, what);
            return false;
        }
    }
    return true;
}

/* A first pass over libyaml's events, before it builds the document:
 * nesting and anchors are bounded here, where a deep or anchor-laden
 * input is stopped after a few events, because loading it whole takes
 * libyaml time quadratic in them (100,000 nested '[' took 48 s). */
static bool check_shape(const char *text, size_t len, const char *file, qv_manifest_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        mf_set_error(err, file, 0, 0, "out of memory");
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    unsigned depth = 0, anchors = 0;
    bool ok = true, end = false;
    while (ok && !end) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            report_parser_error(&parser, text, len, file, err);
            ok = false;
            break;
        }
        const yaml_char_t *anchor = event.type == YAML_SCALAR_EVENT           ? event.data.scalar.anchor
                                    : event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor
                                    : event.type == YAML_MAPPING_START_EVENT  ? event.data.mapping_start.anchor
                                                                              : NULL;
        if (anchor && ++anchors > QV_MANIFEST_MAX_ANCHORS) {
            mf_set_error(err, file, event.start_mark.line + 1, event.start_mark.column + 1,
                         "more than %u anchors (&name); a manifest needs a few at most", QV_MANIFEST_MAX_ANCHORS);
            ok = false;
        }
        if (event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT) {
            if (++depth > QV_MANIFEST_MAX_DEPTH) {
                mf_set_error(err, file, event.start_mark.line + 1, event.start_mark.column + 1,
                             "lists and maps nested more than %u deep; a manifest needs 4 levels at most",
                             QV_MANIFEST_MAX_DEPTH);
                ok = false;
            }
        } else if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        end = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    return ok;
}

bool mf_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *file,
                  qv_manifest_error *err)
{
    if (!check_text(text, len, file, err) || !check_shape(text, len, file, err)) return false;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        mf_set_error(err, file, 0, 0, "out of memory");
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    /* On failure yaml_parser_load frees what it built. */
    if (!yaml_parser_load(&parser, doc)) {
        report_parser_error(&parser, text, len, file, err);
        yaml_parser_delete(&parser);
        return false;
    }
    bool ok = check_tags(doc, file, err);
    if (ok && yaml_document_get_root_node(doc)) {
        /* A second document would be silently ignored: refuse it. */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            report_parser_error(&parser, text, len, file, err);
            ok = false;
        } else {
            const yaml_node_t *root = yaml_document_get_root_node(&next);
            if (root) {
                mf_set_error(err, file, next.start_mark.line + 1, next.start_mark.column + 1,
                             "a manifest holds one YAML document, but a second one starts here");
                ok = false;
            }
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&parser);
    if (!ok) yaml_document_delete(doc);
    return ok;
}
