/*
 * scalars.c — typed values: strings, booleans, integers, enums, sizes, CPU
 * amounts, durations and lists of strings, each with a message that says
 * what was expected.
 *
 * libyaml hands over every scalar as text, so the types are decided here.
 * A quoted scalar is a string in YAML: `replicas: "3"` is rejected (with a
 * hint to remove the quotes) rather than guessed at. Quantities with units
 * ("128MB", "30s") are strings to YAML anyway, so they may be quoted.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "suggest.h"
#include "units.h"

/* A scalar that is not null and holds no NUL character (which would cut
 * the C string short), or an error naming what was expected. */
static bool want_scalar(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                        const char *expected)
{
    if (node->type != YAML_SCALAR_NODE)
        return mf_fail(ctx, node, "'%s' must be %s, not %s", key, expected, mf_kind(node));
    if (mf_is_null(node)) return mf_fail(ctx, node, "'%s' has no value; expected %s", key, expected);
    if (strlen(mf_text(node)) != node->data.scalar.length)
        return mf_fail(ctx, node, "'%s' contains a NUL character", key);
    return true;
}

static const char *quote(const yaml_node_t *node, char *buf)
{
    return mf_quote(mf_text(node), node->data.scalar.length, buf, MF_QUOTE_SIZE);
}

bool mf_read_string(mf_ctx *ctx, const yaml_node_t *node, const char *key, char **out)
{
    if (!want_scalar(ctx, node, key, "a string")) return false;
    char *copy = strdup(mf_text(node));
    if (!copy) return mf_fail(ctx, node, "out of memory");
    free(*out);     /* a default, if any */
    *out = copy;
    return true;
}

static bool parse_bool(const char *text, bool *out)
{
    static const char *const truths[] = {"true", "True", "TRUE"};
    static const char *const falsehoods[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(text, truths[i]) == 0) return *out = true, true;
        if (strcmp(text, falsehoods[i]) == 0) return *out = false, true;
    }
    return false;
}

bool mf_read_bool(mf_ctx *ctx, const yaml_node_t *node, const char *key, bool *out)
{
    char q[MF_QUOTE_SIZE];
    if (!want_scalar(ctx, node, key, "true or false")) return false;
    bool value;
    if (!parse_bool(mf_text(node), &value))
        /* yes/no/on/off are YAML 1.1 booleans but strings in YAML 1.2:
         * accept neither reading. */
        return mf_fail(ctx, node, "'%s' must be true or false, got '%s'", key, quote(node, q));
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return mf_fail(ctx, node, "'%s' must be true or false; remove the quotes around '%s'", key,
                       quote(node, q));
    *out = value;
    return true;
}

bool mf_read_uint(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    char q[MF_QUOTE_SIZE];
    if (!want_scalar(ctx, node, key, "an integer")) return false;
    const char *text = mf_text(node);
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
        return mf_fail(ctx, node, "'%s' must be an integer, got '%s'", key, quote(node, q));
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return mf_fail(ctx, node, "'%s' must be an integer; remove the quotes around '%s'", key,
                       quote(node, q));
    /* YAML 1.1 reads 010 as octal 8; refuse to guess. */
    if (digits[0] == '0' && digits[1] != '\0')
        return mf_fail(ctx, node, "'%s' must be written without leading zeros, got '%s'", key,
                       quote(node, q));
    uint64_t value = 0;
    bool too_big = false;
    for (const char *p = digits; *p; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (value > (UINT64_MAX - d) / 10) too_big = true;
        else value = value * 10 + d;
    }
    if (text[0] == '-' || too_big || value < min || value > max)
        return mf_fail(ctx, node, "'%s' must be between %llu and %llu, got %s", key,
                       (unsigned long long)min, (unsigned long long)max, quote(node, q));
    *out = value;
    return true;
}

/* "a", "a or b", "a, b or c" into buf. */
static void list_alternatives(char *buf, size_t size, const char *const *names, size_t count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", sep, names[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

bool mf_read_enum(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                  const char *const *names, size_t count, int *out)
{
    char allowed[160], q[MF_QUOTE_SIZE];
    list_alternatives(allowed, sizeof allowed, names, count);
    if (!want_scalar(ctx, node, key, allowed)) return false;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(mf_text(node), names[i]) == 0) {
            *out = (int)i;
            return true;
        }
    }
    const char *guess = mf_suggest(mf_text(node), names, count);
    if (guess)
        return mf_fail(ctx, node, "'%s' must be %s, got '%s'; did you mean '%s'?", key, allowed,
                       quote(node, q), guess);
    return mf_fail(ctx, node, "'%s' must be %s, got '%s'", key, allowed, quote(node, q));
}

bool mf_read_size(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint64_t *bytes)
{
    char why[200], q[MF_QUOTE_SIZE];
    if (!want_scalar(ctx, node, key, "a size such as 128MiB")) return false;
    if (!qv_parse_size(mf_text(node), bytes, why, sizeof why))
        return mf_fail(ctx, node, "'%s' has an invalid size '%s': %s", key, quote(node, q), why);
    return true;
}

bool mf_read_cpu(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint32_t *millicores)
{
    char why[200], q[MF_QUOTE_SIZE];
    if (!want_scalar(ctx, node, key, "a CPU amount such as 0.5 or 500m")) return false;
    if (!qv_parse_cpu(mf_text(node), millicores, why, sizeof why))
        return mf_fail(ctx, node, "'%s' has an invalid CPU amount '%s': %s", key, quote(node, q),
                       why);
    return true;
}

bool mf_read_duration(mf_ctx *ctx, const yaml_node_t *node, const char *key, uint64_t *ms)
{
    char why[200], q[MF_QUOTE_SIZE];
    if (!want_scalar(ctx, node, key, "a duration such as 30s")) return false;
    if (!qv_parse_duration(mf_text(node), ms, why, sizeof why))
        return mf_fail(ctx, node, "'%s' has an invalid duration '%s': %s", key, quote(node, q),
                       why);
    return true;
}

bool mf_read_string_list(mf_ctx *ctx, const yaml_node_t *node, const char *key,
                         mf_item_check check, const char *empty_hint, qv_string_list *out)
{
    if (node->type != YAML_SEQUENCE_NODE) {
        if (mf_is_null(node))
            return mf_fail(ctx, node, "'%s' has no value; expected a list", key);
        return mf_fail(ctx, node, "'%s' must be a list, not %s", key, mf_kind(node));
    }
    const yaml_node_item_t *start = node->data.sequence.items.start;
    size_t count = (size_t)(node->data.sequence.items.top - start);
    if (count == 0 && empty_hint)
        return mf_fail(ctx, node, "'%s' is an empty list; %s", key, empty_hint);
    if (!mf_check_count(ctx, node, key, count, "items")) return false;
    mf_string_list_free(out);
    out->items = calloc(count ? count : 1, sizeof *out->items);
    out->at = calloc(count ? count : 1, sizeof *out->at);
    if (!out->items || !out->at) return mf_fail(ctx, node, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = mf_node(ctx, start[i]);
        out->at[i] = mf_pos(item);
        char item_key[MF_KEY_PATH_SIZE + 24];
        snprintf(item_key, sizeof item_key, "%s[%zu]", key, i);
        /* Count each item as it is stored so a failure frees exactly those. */
        if (!mf_read_string(ctx, item, item_key, &out->items[out->count])) return false;
        out->count++;
        if (check && !check(ctx, item, item_key, out->items[i])) return false;
    }
    return true;
}

bool mf_check_count(mf_ctx *ctx, const yaml_node_t *node, const char *key, size_t count,
                    const char *what)
{
    if (count <= QV_MANIFEST_MAX_ITEMS) return true;
    return mf_fail(ctx, node, "'%s' has %zu %s; at most %u are allowed", key, count, what,
                   QV_MANIFEST_MAX_ITEMS);
}
