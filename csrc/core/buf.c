#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 * 1024 * 1024)

static size_t page_round(size_t n)
{
    const size_t page = 4096;
    return (n + page - 1) / page * page;
}

/* Counts n bytes a buffer of this source copied to grow: they cost what output does
 * (fresh pages), and whoever bounds the work of a step counts them. */
static void count_copy(const struct sbx_buf *b, size_t n)
{
    if (b->source) b->source->copied += n;
}

/* Asks for transparent huge pages over every page of [p, p + n): output is written once,
 * front to back, and a huge page takes one fault per 2 MiB instead of one per 4 KiB (a
 * no-op where they are off; the advice changes nothing about who owns the memory). All
 * the pages, not the huge pages inside alone: advice on part of a mapping splits it, and
 * mremap, which grows a mapping in place (ours, and glibc's for a large block), works
 * within one mapping only. For a mapping of its own the pages are the mapping. */
static void advise_huge(void *p, size_t n)
{
    uintptr_t from = (uintptr_t)p & ~(uintptr_t)4095;
    madvise((void *)from, page_round((uintptr_t)p + n - from), MADV_HUGEPAGE);
}

/* A mapping of at least cap bytes for a buffer that has none yet: the spare, grown when
 * it is smaller, else a new one. NULL when out of memory; *got is its size. */
static char *new_mapping(struct sbx_spare *spare, size_t cap, size_t *got)
{
    if (spare && spare->data) {
        char *d = spare->data;
        size_t have = spare->cap;
        spare->data = NULL;
        spare->cap = 0;
        if (have < cap) {
            char *grown = mremap(d, have, cap, MREMAP_MAYMOVE);
            if (grown == MAP_FAILED) munmap(d, have);
            else return *got = cap, grown;
        } else {
            return *got = have, d;
        }
    }
    char *d = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d == MAP_FAILED) return NULL;
    advise_huge(d, cap);
    return *got = cap, d;
}

/* Grows a mappable buffer to cap bytes as a mapping of its own. */
static int grow_mapped(struct sbx_buf *b, size_t cap)
{
    cap = page_round(cap);
    char *d;
    if (b->mapped) {
        d = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
        if (d == MAP_FAILED) return -1;
    } else {
        if (!(d = new_mapping(b->source ? b->source->spare : NULL, cap, &cap))) return -1;
        if (b->data) {
            memcpy(d, b->data, b->len + 1);
            count_copy(b, b->len);
        }
        free(b->data);
    }
    b->data = d;
    b->cap = cap;
    b->mapped = 1;
    return 0;
}

/* Grows a mappable buffer to cap bytes as a block of its allocator. */
static int grow_block(struct sbx_buf *b, size_t cap)
{
    const struct sbx_allocator *a = &b->source->alloc;
    char *block = b->block ? b->data - a->head : NULL;
    size_t was = b->block ? a->head + b->cap : 0;
    char *d = a->realloc(a->ud, block, was, a->head + cap);
    if (!d) return -1;
    /* a smaller block is on the allocator's heap, if it has one: not worth splitting it */
    if (a->head + cap >= HUGE_PAGE) advise_huge(d, a->head + cap);
    if (!b->block) {
        if (b->data) {
            memcpy(d + a->head, b->data, b->len + 1);
            count_copy(b, b->len);
        }
        free(b->data);
    }
    b->data = d + a->head;
    b->cap = cap;
    b->block = 1;
    return 0;
}

/* Gives back the block whose bytes (cap of them) start at `bytes`, head bytes in. */
static void give_back(const struct sbx_buf *b, char *bytes, size_t cap)
{
    const struct sbx_allocator *a = &b->source->alloc;
    a->realloc(a->ud, bytes - a->head, a->head + cap, 0);
}

/* Drops a move under way, if any: its next block is freed. */
static void drop_move(struct sbx_buf *b)
{
    struct sbx_bufmove *m = b->move;
    if (!m) return;
    give_back(b, m->next, m->cap);
    free(m);
    b->move = NULL;
}

static void free_block(struct sbx_buf *b)
{
    drop_move(b);
    give_back(b, b->data, b->cap);
}

/* A block buffer past half full takes its next block, when moves are for its size. */
static void begin_move(struct sbx_buf *b)
{
    size_t cap = 2 * b->cap;
    if (cap > SBX_BUF_MOVE_MAX) return;
    struct sbx_bufmove *m = malloc(sizeof *m);
    if (!m) return; /* it grows all at once when full, as a block past the moves does */
    const struct sbx_allocator *a = &b->source->alloc;
    char *d = a->realloc(a->ud, NULL, 0, a->head + cap);
    if (!d) {
        free(m);
        return;
    }
    if (a->head + cap >= HUGE_PAGE) advise_huge(d, a->head + cap);
    *m = (struct sbx_bufmove){.next = d + a->head, .cap = cap, .moved = 0};
    b->move = m;
}

/* Copies up to n more of the bytes held into the next block. */
static void move_some(struct sbx_buf *b, size_t n)
{
    struct sbx_bufmove *m = b->move;
    size_t left = m->moved < b->len ? b->len - m->moved : 0;
    if (n > left) n = left;
    memcpy(m->next + m->moved, b->data + m->moved, n);
    m->moved += n;
    count_copy(b, n);
}

/* The block is full: the buffer goes on in the next one, the rest of its bytes copied
 * (and the NUL). -1 when there is no next block, or it is too small for `need`. */
static int finish_move(struct sbx_buf *b, size_t need)
{
    struct sbx_bufmove *m = b->move;
    if (!m || m->cap < need) return -1;
    if (m->moved > b->len) m->moved = b->len;
    memcpy(m->next + m->moved, b->data + m->moved, b->len - m->moved + 1);
    count_copy(b, b->len - m->moved);
    give_back(b, b->data, b->cap);
    b->data = m->next;
    b->cap = m->cap;
    free(m);
    b->move = NULL;
    return 0;
}

/* A block buffer's part of a reservation that fits: its move, begun or taken further. */
static void pace_move(struct sbx_buf *b, size_t n)
{
    if (!b->move && b->len + n + 1 > b->cap / 2) begin_move(b);
    if (b->move) move_some(b, 2 * n > SBX_BUF_MOVE_MIN ? 2 * n : SBX_BUF_MOVE_MIN);
}

void sbx_spare_keep(struct sbx_spare *s, struct sbx_buf *b)
{
    sbx_spare_drop(s);
    madvise(b->data, b->cap, MADV_FREE);
    s->data = b->data;
    s->cap = b->cap;
    b->data = NULL;
    b->len = b->cap = 0;
    b->mapped = 0;
}

void sbx_spare_drop(struct sbx_spare *s)
{
    if (s->data) munmap(s->data, s->cap);
    s->data = NULL;
    s->cap = 0;
}

int sbx_buf_reserve(struct sbx_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) {
        if (b->block) pace_move(b, n);
        return 0;
    }
    if (finish_move(b, b->len + n + 1) == 0) return 0;
    drop_move(b); /* too small for this append, if any: the block grows at once */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    if (b->mappable && cap >= SBX_BUF_MAP_MIN)
        return b->source && b->source->alloc.realloc ? grow_block(b, cap) : grow_mapped(b, cap);
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int sbx_buf_append(struct sbx_buf *b, const void *p, size_t n)
{
    if (sbx_buf_reserve(b, n) != 0) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void sbx_buf_reset(struct sbx_buf *b)
{
    drop_move(b);
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void sbx_buf_free(struct sbx_buf *b)
{
    if (b->mapped) munmap(b->data, b->cap);
    else if (b->block) free_block(b);
    else free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->mapped = b->block = 0;
}

char *sbx_buf_take(struct sbx_buf *b, size_t *len)
{
    if (!b->data && sbx_buf_append(b, "", 0) != 0) return NULL;
    char *d = b->data;
    if (b->mapped || b->block) { /* the caller frees with free(): a heap copy */
        if (!(d = malloc(b->len + 1))) return NULL;
        memcpy(d, b->data, b->len + 1);
        if (len) *len = b->len;
        sbx_buf_free(b);
        return d;
    }
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

char *sbx_buf_release_block(struct sbx_buf *b, size_t *len)
{
    if (!b->block) return NULL;
    const struct sbx_allocator *a = &b->source->alloc;
    drop_move(b);
    char *block = b->data - a->head;
    /* a shrink, which the allocator's contract says cannot fail */
    char *d = a->realloc(a->ud, block, a->head + b->cap, a->head + b->len + 1);
    if (!d) return NULL;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->block = 0;
    return d;
}

void sbx_buf_move(struct sbx_buf *b, struct sbx_buf *to)
{
    *to = *b;
    b->data = NULL;
    b->move = NULL;
    b->len = b->cap = 0;
    b->mapped = b->block = 0;
}
