/* embedded: the mix an embedded-systems CPU benchmark runs, written for
 * this repository. Each round works on a linked list of records (find by
 * key, reverse, a merge sort of the list through a comparison function,
 * unlink and reinsert), on small matrices of 16-bit values (add a
 * constant, multiply by a vector and by a matrix, pick bit fields out of
 * the sums), on a text scanned by a state machine that classifies its
 * tokens (integers, decimals, exponents, hex numbers, words, invalid),
 * and feeds everything through a bit-by-bit CRC-16. Pointers are 4 bytes
 * on wasm32 and 8 natively; nothing depends on addresses, so both builds
 * compute the same checksum. */
#include "../kernels/kernel.h"

/* ------------------------------------------------------------ CRC-16 */

/* CRC-16/ARC (reflected 0x8005), one bit at a time as small firmware does. */
static uint16_t crc16_byte(uint16_t crc, uint8_t b)
{
    crc ^= b;
    for (int i = 0; i < 8; i++) crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    return crc;
}

static uint16_t crc16_word(uint16_t crc, uint32_t w)
{
    crc = crc16_byte(crc, (uint8_t)w);
    crc = crc16_byte(crc, (uint8_t)(w >> 8));
    crc = crc16_byte(crc, (uint8_t)(w >> 16));
    return crc16_byte(crc, (uint8_t)(w >> 24));
}

/* ------------------------------------------------------------ linked list */

#define NODES 200

typedef struct record {
    int16_t key;
    uint16_t seq;
    uint32_t weight;
} record;

typedef struct node {
    struct node *next;
    record *rec;
} node;

static node nodes[NODES];
static record records[NODES];

typedef int (*compare_fn)(const record *a, const record *b);

static int by_key(const record *a, const record *b) { return a->key - b->key; }
static int by_seq(const record *a, const record *b) { return (int)a->seq - (int)b->seq; }

static node *list_build(uint32_t *rng)
{
    node *head = 0;
    for (int i = NODES - 1; i >= 0; i--) {
        records[i].key = (int16_t)(rng_next(rng) & 0x3fff);
        records[i].seq = (uint16_t)i;
        records[i].weight = rng_next(rng) >> 8;
        nodes[i].rec = &records[i];
        nodes[i].next = head;
        head = &nodes[i];
    }
    return head;
}

static node *list_find(node *list, int16_t key, uint16_t seq)
{
    for (; list; list = list->next)
        if (list->rec->key == key || list->rec->seq == seq) return list;
    return 0;
}

static node *list_reverse(node *list)
{
    node *done = 0;
    while (list) {
        node *next = list->next;
        list->next = done;
        done = list;
        list = next;
    }
    return done;
}

/* Bottom-up merge sort of a singly linked list: runs of width 1, 2, 4 ... */
static node *list_sort(node *list, compare_fn cmp)
{
    for (int width = 1;; width *= 2) {
        node *p = list, *tail = 0;
        int merges = 0;
        list = 0;
        while (p) {
            merges++;
            node *q = p;
            int psize = 0, qsize = width;
            for (int i = 0; i < width && q; i++, psize++) q = q->next;
            while (psize > 0 || (qsize > 0 && q)) {
                node *e;
                if (psize == 0) { e = q; q = q->next; qsize--; }
                else if (qsize == 0 || !q || cmp(p->rec, q->rec) <= 0) { e = p; p = p->next; psize--; }
                else { e = q; q = q->next; qsize--; }
                if (tail) tail->next = e; else list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = 0;
        if (merges <= 1) return list;
    }
}

/* Take the node after the one found out of the list and put it first. */
static node *list_move_front(node *list, node *found)
{
    if (!found || !found->next) return list;
    node *moved = found->next;
    found->next = moved->next;
    moved->next = list;
    return moved;
}

static uint16_t list_round(uint32_t *rng, uint16_t crc)
{
    node *list = list_build(rng);
    uint32_t hits = 0, misses = 0;
    for (int i = 0; i < 24; i++) {
        int16_t key = (int16_t)(rng_next(rng) & 0x3fff);
        node *f = list_find(list, i & 1 ? key : records[(i * 37) % NODES].key, (uint16_t)(NODES + i));
        if (f) { hits += f->rec->seq; list = list_move_front(list, f); } else misses++;
        if ((i & 7) == 7) list = list_reverse(list);
    }
    list = list_sort(list, by_key);
    for (node *p = list; p; p = p->next) crc = crc16_word(crc, (uint32_t)(uint16_t)p->rec->key << 16 | p->rec->seq);
    list = list_sort(list, by_seq);
    uint32_t sum = 0;
    for (node *p = list; p; p = p->next) sum = sum * 31 + p->rec->weight;
    return crc16_word(crc16_word(crc, sum), hits * 1024 + misses);
}

/* ------------------------------------------------------------ matrices */

#define DIM 16

static int16_t mat_a[DIM][DIM], mat_b[DIM][DIM];
static int32_t mat_c[DIM][DIM], vec_out[DIM];

static void mat_fill(uint32_t *rng)
{
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            uint32_t r = rng_next(rng);
            mat_a[i][j] = (int16_t)((r & 0xff) - 128);
            mat_b[i][j] = (int16_t)(((r >> 8) & 0x3ff) - 512);
        }
}

static void mat_add_const(int16_t m[DIM][DIM], int16_t k)
{
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) m[i][j] = (int16_t)(m[i][j] + k);
}

static void mat_mul_vec(const int16_t m[DIM][DIM], const int16_t *v)
{
    for (int i = 0; i < DIM; i++) {
        int32_t s = 0;
        for (int j = 0; j < DIM; j++) s += (int32_t)m[i][j] * v[j];
        vec_out[i] = s;
    }
}

static void mat_mul(const int16_t a[DIM][DIM], const int16_t b[DIM][DIM])
{
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            int32_t s = 0;
            for (int k = 0; k < DIM; k++) s += (int32_t)a[i][k] * b[k][j];
            mat_c[i][j] = s;
        }
}

/* Sum bit fields of the products: bits 2-5 and 8-14 of each, signed. */
static uint32_t mat_fields(void)
{
    uint32_t acc = 0;
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            uint32_t v = (uint32_t)mat_c[i][j];
            acc += ((v >> 2) & 0xf) + ((v >> 8) & 0x7f) * (mat_c[i][j] < 0 ? 3u : 1u);
        }
    return acc;
}

static uint16_t matrix_round(uint32_t *rng, uint16_t crc)
{
    mat_fill(rng);
    int16_t k = (int16_t)(rng_next(rng) & 0x1f);
    mat_add_const(mat_a, k);
    mat_mul_vec(mat_a, mat_b[3]);
    for (int i = 0; i < DIM; i++) crc = crc16_word(crc, (uint32_t)vec_out[i]);
    mat_mul(mat_a, mat_b);
    crc = crc16_word(crc, mat_fields());
    mat_add_const(mat_a, (int16_t)-k);
    mat_mul(mat_b, mat_a);
    return crc16_word(crc, mat_fields());
}

/* ------------------------------------------------------------ state machine */

enum { S_START, S_INT, S_SIGN, S_DOT, S_FRAC, S_EXP, S_EXP_SIGN, S_EXP_DIGITS, S_HEX0, S_HEX, S_WORD, S_BAD, S_COUNT };

#define TEXT 1024
static uint8_t text[TEXT];

static void text_fill(uint32_t *rng)
{
    static const char pieces[][8] = {"42", "-7", "3.25", "+1e9", "0x1f", "abc", "1.5e-3", "x9", "..", "0x", "7e", "-0.5"};
    int n = 0;
    while (n < TEXT - 9) {
        const char *p = pieces[rng_next(rng) % 12];
        while (*p) text[n++] = (uint8_t)*p++;
        text[n++] = (rng_next(rng) & 3) ? ' ' : ',';
    }
    while (n < TEXT) text[n++] = ' ';
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

/* One transition; separators are handled by the caller. */
static int step(int s, uint8_t c)
{
    switch (s) {
    case S_START:
        if (c == '0') return S_HEX0;
        if (is_digit(c)) return S_INT;
        if (c == '+' || c == '-') return S_SIGN;
        if (c == '.') return S_DOT;
        return (c >= 'a' && c <= 'z') ? S_WORD : S_BAD;
    case S_SIGN: return is_digit(c) ? S_INT : c == '.' ? S_DOT : S_BAD;
    case S_HEX0:
        if (c == 'x') return S_HEX;
        /* fall through */
    case S_INT:
        if (is_digit(c)) return S_INT;
        if (c == '.') return S_FRAC;
        return c == 'e' ? S_EXP : S_BAD;
    case S_DOT: return is_digit(c) ? S_FRAC : S_BAD;
    case S_FRAC: return is_digit(c) ? S_FRAC : c == 'e' ? S_EXP : S_BAD;
    case S_EXP: return is_digit(c) ? S_EXP_DIGITS : (c == '+' || c == '-') ? S_EXP_SIGN : S_BAD;
    case S_EXP_SIGN:
    case S_EXP_DIGITS: return is_digit(c) ? S_EXP_DIGITS : S_BAD;
    case S_HEX: return is_hex(c) ? S_HEX : S_BAD;
    case S_WORD: return (c >= 'a' && c <= 'z') || is_digit(c) ? S_WORD : S_BAD;
    default: return S_BAD;
    }
}

static uint16_t state_round(uint32_t *rng, uint16_t crc)
{
    uint32_t finals[S_COUNT] = {0}, transitions = 0;
    text_fill(rng);
    for (int pass = 0; pass < 2; pass++) {
        int s = S_START;
        for (int i = 0; i < TEXT; i++) {
            uint8_t c = text[i];
            if (c == ' ' || c == ',') {
                finals[s]++;
                s = S_START;
                continue;
            }
            int t = step(s, c);
            transitions += t != s;
            s = t;
        }
        finals[s]++;
        /* Corrupt every 29th byte for the second pass, as a noisy line would. */
        for (int i = 0; i < TEXT; i += 29) text[i] = (uint8_t)(text[i] ^ 0x11);
    }
    for (int i = 0; i < S_COUNT; i++) crc = crc16_word(crc, finals[i]);
    return crc16_word(crc, transitions);
}

/* ------------------------------------------------------------ driver */

int32_t run(int32_t n)
{
    uint32_t rng = 0x2545F491u;
    uint16_t crc = 0xffff;
    for (int32_t r = 0; r < n; r++) {
        crc = list_round(&rng, crc);
        crc = matrix_round(&rng, crc);
        crc = state_round(&rng, crc);
    }
    return (int32_t)crc << 8 ^ n;
}
