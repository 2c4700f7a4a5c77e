/* pagecache: a database's buffer pool. 4 MiB of "disk" in 1 KiB pages is
 * reached through 96 frames: a hash table from page number to frame, an
 * LRU list (doubly linked, through indices), pins, dirty pages written
 * back on eviction. Transactions read and update 32-bit records with a
 * skewed (80/20) access pattern; a page's checksum is kept in its header
 * and verified when it is read back from disk. */
#include "../kernels/kernel.h"

#define PAGE 1024
#define PAGES 4096
#define FRAMES 96
#define BUCKETS 256
#define RECORDS_PER_PAGE ((PAGE - 8) / 4)

static uint8_t disk[PAGES][PAGE];

typedef struct frame {
    int32_t page;               /* -1: free */
    int32_t next_in_bucket;
    int32_t lru_prev, lru_next;
    int32_t pins;
    int32_t dirty;
    uint8_t data[PAGE];
} frame;

static frame frames[FRAMES];
static int32_t buckets[BUCKETS];
static int32_t lru_head, lru_tail;       /* head: most recently used */
static uint32_t reads, writes, bad;

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void set32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

static uint32_t page_sum(const uint8_t *d)
{
    uint32_t s = 0x12345678;
    for (int i = 8; i < PAGE; i += 4) s = rotr32(s, 1) + get32(d + i);
    return s;
}

static void copy_page(uint8_t *dst, const uint8_t *src)
{
    for (int i = 0; i < PAGE; i += 4) set32(dst + i, get32(src + i));
}

static void lru_unlink(int32_t f)
{
    frame *fr = &frames[f];
    if (fr->lru_prev >= 0) frames[fr->lru_prev].lru_next = fr->lru_next; else lru_head = fr->lru_next;
    if (fr->lru_next >= 0) frames[fr->lru_next].lru_prev = fr->lru_prev; else lru_tail = fr->lru_prev;
}

static void lru_push_front(int32_t f)
{
    frames[f].lru_prev = -1;
    frames[f].lru_next = lru_head;
    if (lru_head >= 0) frames[lru_head].lru_prev = f; else lru_tail = f;
    lru_head = f;
}

static uint32_t bucket_of(int32_t page) { return ((uint32_t)page * 2654435761u) >> 24; }

static int32_t lookup(int32_t page)
{
    for (int32_t f = buckets[bucket_of(page)]; f >= 0; f = frames[f].next_in_bucket)
        if (frames[f].page == page) return f;
    return -1;
}

static void unhash(int32_t f)
{
    int32_t *link = &buckets[bucket_of(frames[f].page)];
    while (*link != f) link = &frames[*link].next_in_bucket;
    *link = frames[f].next_in_bucket;
}

static void write_back(frame *fr)
{
    set32(fr->data, page_sum(fr->data));
    copy_page(disk[fr->page], fr->data);
    fr->dirty = 0;
    writes++;
}

/* Pin the page in a frame, reading it in (and evicting the least recently
 * used unpinned frame) if it is not cached. */
static frame *pin(int32_t page)
{
    int32_t f = lookup(page);
    if (f < 0) {
        f = lru_tail;
        while (f >= 0 && frames[f].pins) f = frames[f].lru_prev;
        if (f < 0) return 0;
        frame *victim = &frames[f];
        if (victim->page >= 0) {
            if (victim->dirty) write_back(victim);
            unhash(f);
        }
        victim->page = page;
        copy_page(victim->data, disk[page]);
        if (get32(victim->data) != page_sum(victim->data)) bad++;
        reads++;
        uint32_t b = bucket_of(page);
        victim->next_in_bucket = buckets[b];
        buckets[b] = f;
    }
    lru_unlink(f);
    lru_push_front(f);
    frames[f].pins++;
    return &frames[f];
}

static void unpin(frame *fr, int dirty)
{
    fr->pins--;
    if (dirty) fr->dirty = 1;
}

static int32_t pick_page(uint32_t *seed)
{
    uint32_t r = rng_next(seed);
    /* 80% of accesses go to 20% of the pages */
    return (r % 10 < 8) ? (int32_t)((r >> 8) % (PAGES / 5)) : (int32_t)((r >> 8) % PAGES);
}

int32_t run(int32_t n)
{
    for (int p = 0; p < PAGES; p++) {
        for (int i = 8; i < PAGE; i += 4) set32(disk[p] + i, (uint32_t)(p * 31 + i));
        set32(disk[p], page_sum(disk[p]));
    }
    for (int b = 0; b < BUCKETS; b++) buckets[b] = -1;
    lru_head = lru_tail = -1;
    for (int f = 0; f < FRAMES; f++) {
        frames[f].page = frames[f].next_in_bucket = -1;
        frames[f].pins = frames[f].dirty = 0;
        lru_push_front(f);
    }
    reads = writes = bad = 0;
    uint32_t seed = 4242, sum = 0;
    for (int32_t t = 0; t < n; t++) {
        /* A transaction: read two records, write their sum to a third. */
        int32_t p1 = pick_page(&seed), p2 = pick_page(&seed), p3 = pick_page(&seed);
        uint32_t r1 = rng_next(&seed) % RECORDS_PER_PAGE, r2 = rng_next(&seed) % RECORDS_PER_PAGE;
        uint32_t r3 = rng_next(&seed) % RECORDS_PER_PAGE;
        frame *a = pin(p1), *b = pin(p2);
        if (!a || !b) return -1;
        uint32_t v = get32(a->data + 8 + 4 * r1) + get32(b->data + 8 + 4 * r2);
        unpin(a, 0);
        unpin(b, 0);
        frame *c = pin(p3);
        if (!c) return -1;
        set32(c->data + 8 + 4 * r3, v ^ (uint32_t)t);
        unpin(c, 1);
        sum = rotr32(sum, 5) ^ v;
    }
    return (int32_t)(sum ^ reads * 3 ^ writes * 7 ^ bad * 1000003);
}
