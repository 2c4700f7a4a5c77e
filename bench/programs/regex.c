/* regex: a backtracking regular-expression matcher (the Kernighan-Pike
 * design, grown to character classes, '+', '?', anchors and escapes) run
 * by a small grep: 8 patterns over 400 generated log lines, n times.
 * Recursion, short loops over text and pattern, unpredictable branches. */
#include "../kernels/kernel.h"

#define LINES 400
#define LINE_MAX 96
static char lines[LINES][LINE_MAX];

static const char *const patterns[] = {
    "error",
    "^[0-9]+ WARN",
    "time=[0-9]+ms$",
    "user=[a-z]+[0-9]?@",
    "GET /api/v[12]/[a-z]+",
    "a.*b.*c",
    "\\[[A-Z]+\\]",
    "id=[0-9a-f][0-9a-f][0-9a-f]+ ",
};

static void make_lines(void)
{
    static const char *const levels[] = {"INFO", "WARN", "[DEBUG]", "error"};
    static const char *const paths[] = {"/api/v1/users", "/api/v2/items", "/static/app.js", "/api/v3/x"};
    static const char *const users[] = {"alice", "bob7", "carol", "dave2", "eve"};
    uint32_t seed = 777;
    for (int i = 0; i < LINES; i++) {
        char *o = lines[i], *end = lines[i] + LINE_MAX - 1;
#define PUT(s) do { const char *s_ = (s); while (*s_ && o < end) *o++ = *s_++; } while (0)
        char num[12];
        int k = 0;
        uint32_t t = rng_next(&seed) % 100000;
        do num[k++] = (char)('0' + t % 10), t /= 10; while (t);
        while (k && o < end) *o++ = num[--k];
        *o++ = ' ';
        PUT(levels[rng_next(&seed) % 4]);
        PUT(" GET ");
        PUT(paths[rng_next(&seed) % 4]);
        PUT(" user=");
        PUT(users[rng_next(&seed) % 5]);
        PUT("@example id=");
        for (int j = 0; j < (int)(rng_next(&seed) % 6) + 1 && o < end; j++) *o++ = "0123456789abcdef"[rng_next(&seed) % 16];
        PUT(" time=");
        t = rng_next(&seed) % 5000;
        k = 0;
        do num[k++] = (char)('0' + t % 10), t /= 10; while (t);
        while (k && o < end) *o++ = num[--k];
        if (rng_next(&seed) & 1) PUT("ms");
#undef PUT
        *o = 0;
    }
}

/* One pattern element: a literal, '.', a class [...] or an escape. Returns
 * its length in the pattern; *ok says whether it matches c. */
static int element(const char *re, char c, int *ok)
{
    if (re[0] == '\\') { *ok = re[1] == c; return 2; }
    if (re[0] == '.') { *ok = c != 0; return 1; }
    if (re[0] == '[') {
        int i = 1, in = 0;
        while (re[i] && re[i] != ']') {
            if (re[i + 1] == '-' && re[i + 2] && re[i + 2] != ']') {
                if (c >= re[i] && c <= re[i + 2]) in = 1;
                i += 3;
            } else {
                if (c == re[i]) in = 1;
                i++;
            }
        }
        *ok = in && c != 0;
        return i + 1;
    }
    *ok = re[0] == c;
    return 1;
}

static int match_here(const char *re, const char *text);

/* el* (or el+ after one match) followed by rest: longest first. */
static int match_star(const char *re, int el_len, const char *rest, const char *text)
{
    const char *t = text;
    int ok;
    while (*t && (element(re, *t, &ok), ok)) t++;
    do {
        if (match_here(rest, t)) return 1;
    } while (t-- > text);
    (void)el_len;
    return 0;
}

static int match_here(const char *re, const char *text)
{
    for (;;) {
        if (re[0] == 0) return 1;
        if (re[0] == '$' && re[1] == 0) return *text == 0;
        int ok, len = element(re, *text, &ok);
        char q = re[len];
        if (q == '*') return match_star(re, len, re + len + 1, text);
        if (q == '+') return ok && match_star(re, len, re + len + 1, text + 1);
        if (q == '?') {
            if (ok && match_here(re + len + 1, text + 1)) return 1;
            re += len + 1;
            continue;
        }
        if (!ok) return 0;
        re += len;
        text++;
    }
}

static int match(const char *re, const char *text)
{
    if (re[0] == '^') return match_here(re + 1, text);
    do {
        if (match_here(re, text)) return 1;
    } while (*text++);
    return 0;
}

int32_t run(int32_t n)
{
    make_lines();
    uint32_t sum = 0;
    for (int32_t r = 0; r < n; r++) {
        for (int p = 0; p < 8; p++) {
            uint32_t count = 0;
            for (int i = 0; i < LINES; i++) count += (uint32_t)match(patterns[p], lines[i]) << (i & 3);
            sum = rotr32(sum, 3) ^ (count + (uint32_t)p);
        }
        lines[(uint32_t)r % LINES][(uint32_t)r % 7] ^= 1;
    }
    return (int32_t)sum;
}
