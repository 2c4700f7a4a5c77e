/* json: a recursive-descent JSON parser. A 40 KB document (objects,
 * arrays, numbers with fractions and exponents, strings with escapes,
 * literals) is generated once; run(n) parses it n times, building nothing
 * but a checksum of what it saw: key hashes, numbers, string lengths,
 * nesting. Byte-at-a-time scanning, a state machine per token, many small
 * functions and recursion. */
#include "../kernels/kernel.h"

#define DOC_MAX (48 * 1024)
static char doc[DOC_MAX];
static int doc_len;

/* ------------------------------------------------------------ generating */
static uint32_t seed;

static void put(char c) { if (doc_len < DOC_MAX - 1) doc[doc_len++] = c; }
static void puts_(const char *s) { while (*s) put(*s++); }
static void put_uint(uint32_t v)
{
    char buf[12];
    int k = 0;
    do buf[k++] = (char)('0' + v % 10), v /= 10; while (v);
    while (k) put(buf[--k]);
}

static const char *const words[] = {"id", "name", "value", "tags", "price", "items", "x", "y",
                                    "enabled", "description", "count", "children"};

static void gen_string(void)
{
    put('"');
    int len = (int)(rng_next(&seed) % 12) + 1;
    for (int i = 0; i < len; i++) {
        uint32_t r = rng_next(&seed) % 40;
        if (r == 0) puts_("\\n");
        else if (r == 1) puts_("\\\"");
        else if (r == 2) puts_("\\u00e9");
        else put((char)('a' + r % 26));
    }
    put('"');
}

static void gen_value(int depth)
{
    uint32_t r = rng_next(&seed) % (depth > 4 ? 5 : 8);
    switch (r) {
    case 0: if (rng_next(&seed) & 1) put('-'); put_uint(rng_next(&seed) % 100000); break;
    case 1: put_uint(rng_next(&seed) % 1000); put('.'); put_uint(rng_next(&seed) % 1000);
            if (rng_next(&seed) & 1) { puts_("e-"); put_uint(rng_next(&seed) % 20); } break;
    case 2: gen_string(); break;
    case 3: puts_((rng_next(&seed) & 1) ? "true" : "false"); break;
    case 4: puts_("null"); break;
    case 5: case 6: {
        put('{');
        int k = (int)(rng_next(&seed) % 5) + 1;
        for (int i = 0; i < k; i++) {
            if (i) puts_(", ");
            put('"'); puts_(words[rng_next(&seed) % 12]); puts_("\": ");
            gen_value(depth + 1);
        }
        put('}');
        break;
    }
    default: {
        put('[');
        int k = (int)(rng_next(&seed) % 6);
        for (int i = 0; i < k; i++) {
            if (i) put(',');
            gen_value(depth + 1);
        }
        put(']');
    }
    }
}

static void generate(void)
{
    seed = 2463534242u;
    doc_len = 0;
    put('[');
    for (int i = 0; doc_len < DOC_MAX - 2048; i++) {
        if (i) puts_(",\n ");
        gen_value(0);
    }
    put(']');
    doc[doc_len] = 0;
}

/* ------------------------------------------------------------ parsing */
typedef struct parser {
    const char *p;
    uint32_t sum;
    int error;
} parser;

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r') ps->p++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string: returns its hash (FNV-1a of the decoded bytes). */
static uint32_t parse_string(parser *ps)
{
    uint32_t h = 2166136261u;
    if (*ps->p != '"') { ps->error = 1; return 0; }
    ps->p++;
    for (;;) {
        char c = *ps->p++;
        uint32_t cp;
        if (c == '"') break;
        if (c == 0) { ps->error = 1; return 0; }
        if (c == '\\') {
            c = *ps->p++;
            switch (c) {
            case 'n': cp = '\n'; break;
            case 't': cp = '\t'; break;
            case '"': case '\\': case '/': cp = (uint32_t)c; break;
            case 'u': {
                cp = 0;
                for (int i = 0; i < 4; i++) {
                    int d = hex_digit(*ps->p++);
                    if (d < 0) { ps->error = 1; return 0; }
                    cp = cp << 4 | (uint32_t)d;
                }
                break;
            }
            default: ps->error = 1; return 0;
            }
        } else {
            cp = (uint8_t)c;
        }
        h = (h ^ cp) * 16777619u;
    }
    return h;
}

/* A number, as a fixed-point value (x1000) folded into 32 bits. */
static uint32_t parse_number(parser *ps)
{
    int neg = 0;
    uint32_t ip = 0, frac = 0, scale = 1, ex = 0;
    if (*ps->p == '-') neg = 1, ps->p++;
    if (*ps->p < '0' || *ps->p > '9') { ps->error = 1; return 0; }
    while (*ps->p >= '0' && *ps->p <= '9') ip = ip * 10 + (uint32_t)(*ps->p++ - '0');
    if (*ps->p == '.') {
        ps->p++;
        while (*ps->p >= '0' && *ps->p <= '9') {
            if (scale < 1000000) frac = frac * 10 + (uint32_t)(*ps->p - '0'), scale *= 10;
            ps->p++;
        }
    }
    if (*ps->p == 'e' || *ps->p == 'E') {
        ps->p++;
        if (*ps->p == '-' || *ps->p == '+') ps->p++;
        while (*ps->p >= '0' && *ps->p <= '9') ex = ex * 10 + (uint32_t)(*ps->p++ - '0');
    }
    uint32_t v = ip * 1000 + frac * 1000 / scale + ex * 7;
    return neg ? 0u - v : v;
}

static int literal(parser *ps, const char *word)
{
    const char *q = ps->p;
    while (*word) if (*q++ != *word++) return 0;
    ps->p = q;
    return 1;
}

static void parse_value(parser *ps, int depth);

static void parse_object(parser *ps, int depth)
{
    ps->p++;
    skip_ws(ps);
    if (*ps->p == '}') { ps->p++; return; }
    for (;;) {
        skip_ws(ps);
        uint32_t key = parse_string(ps);
        skip_ws(ps);
        if (*ps->p++ != ':') { ps->error = 1; return; }
        ps->sum = rotr32(ps->sum, 5) ^ key;
        parse_value(ps, depth + 1);
        if (ps->error) return;
        skip_ws(ps);
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == '}') { ps->p++; return; }
        ps->error = 1;
        return;
    }
}

static void parse_array(parser *ps, int depth)
{
    ps->p++;
    skip_ws(ps);
    if (*ps->p == ']') { ps->p++; return; }
    for (uint32_t index = 0;; index++) {
        parse_value(ps, depth + 1);
        if (ps->error) return;
        ps->sum += index;
        skip_ws(ps);
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == ']') { ps->p++; return; }
        ps->error = 1;
        return;
    }
}

static void parse_value(parser *ps, int depth)
{
    skip_ws(ps);
    if (depth > 64) { ps->error = 1; return; }
    switch (*ps->p) {
    case '{': parse_object(ps, depth); ps->sum += 0x1000; break;
    case '[': parse_array(ps, depth); ps->sum += 0x2000; break;
    case '"': ps->sum ^= parse_string(ps); break;
    case 't': if (!literal(ps, "true")) ps->error = 1; ps->sum += 3; break;
    case 'f': if (!literal(ps, "false")) ps->error = 1; ps->sum += 5; break;
    case 'n': if (!literal(ps, "null")) ps->error = 1; ps->sum += 7; break;
    default: ps->sum = ps->sum * 31 + parse_number(ps); break;
    }
}

int32_t run(int32_t n)
{
    generate();
    uint32_t total = (uint32_t)doc_len;
    for (int32_t i = 0; i < n; i++) {
        parser ps = {doc, (uint32_t)i, 0};
        parse_value(&ps, 0);
        skip_ws(&ps);
        if (ps.error || *ps.p) return -1;
        total = rotr32(total, 3) + ps.sum;
    }
    return (int32_t)total;
}
