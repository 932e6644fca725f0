/* Growable buffers: a mappable one crosses into a mapping of its own and keeps growing
 * with every byte in place; take and move hand the bytes over intact. */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "check.h"

/* Appends `total` bytes of a known pattern in pieces of `piece`. */
static int fill(struct sbx_buf *b, size_t total, size_t piece)
{
    char chunk[7001];
    for (size_t at = 0; at < total; at += piece) {
        size_t n = total - at < piece ? total - at : piece;
        for (size_t i = 0; i < n; i++) chunk[i] = (char)((at + i) * 131 % 251);
        if (sbx_buf_append(b, chunk, n) != 0) return -1;
    }
    return 0;
}

static int holds_pattern(const char *d, size_t total)
{
    for (size_t i = 0; i < total; i++)
        if (d[i] != (char)(i * 131 % 251)) return 0;
    return d[total] == '\0';
}

static void test_mapped_growth(void)
{
    const size_t total = 3 * 1024 * 1024 + 17;
    struct sbx_buf b = {.mappable = 1};
    CHECK(fill(&b, total, 7001) == 0, "append");
    CHECK(b.mapped, "a mappable buffer past %u bytes is a mapping", SBX_BUF_MAP_MIN);
    CHECK(b.len == total && holds_pattern(b.data, total), "every byte in place after growing");
    sbx_buf_reset(&b);
    CHECK(b.len == 0 && b.mapped && b.data[0] == '\0', "reset keeps the mapping");
    sbx_buf_free(&b);
    CHECK(!b.data && !b.mapped && b.cap == 0, "free empties");
}

static void test_plain_stays_heap(void)
{
    struct sbx_buf b = {0};
    CHECK(fill(&b, 300000, 4096) == 0, "append");
    CHECK(!b.mapped && holds_pattern(b.data, 300000), "a plain buffer stays malloc'd");
    sbx_buf_free(&b);
}

static void test_take_and_move(void)
{
    struct sbx_buf b = {.mappable = 1};
    fill(&b, 200000, 5000);
    size_t len = 0;
    char *d = sbx_buf_take(&b, &len);
    CHECK(d && len == 200000 && holds_pattern(d, len), "take of a mapping gives a heap copy");
    CHECK(!b.data && b.len == 0 && !b.mapped, "take empties");
    free(d);
    fill(&b, 200000, 5000);
    struct sbx_buf to;
    sbx_buf_move(&b, &to);
    CHECK(to.mapped && to.len == 200000 && holds_pattern(to.data, to.len), "move keeps the bytes");
    CHECK(!b.data && b.len == 0 && !b.mapped && b.mappable, "move empties, the buffer stays mappable");
    sbx_buf_free(&to);
}

/* A buffer let go as the spare: the next mappable buffer grows into its very mapping
 * (larger or smaller than it needs), with its own bytes exact; a spare held is unmapped
 * when another is kept. */
static void test_spare_reused(void)
{
    const size_t big = 2 * 1024 * 1024 + 5, small = 100 * 1024;
    struct sbx_spare spare = {0};
    struct sbx_bufsource source = {.spare = &spare};
    struct sbx_buf first = {.mappable = 1, .source = &source};
    CHECK(fill(&first, big, 7001) == 0, "append");
    char *mapping = first.data;
    size_t cap = first.cap;
    sbx_spare_keep(&spare, &first);
    CHECK(spare.data == mapping && spare.cap == cap, "the spare is the mapping");
    CHECK(!first.data && !first.mapped && first.len == 0, "the buffer let go is empty");

    struct sbx_buf next = {.mappable = 1, .source = &source};
    CHECK(fill(&next, small, 7001) == 0, "append");
    CHECK(next.data == mapping && next.cap == cap, "a smaller buffer takes the whole spare");
    CHECK(!spare.data, "the spare is taken");
    CHECK(next.len == small && holds_pattern(next.data, small), "its own bytes exact");
    sbx_spare_keep(&spare, &next);

    struct sbx_buf larger = {.mappable = 1, .source = &source};
    CHECK(fill(&larger, 3 * big, 7001) == 0, "append");
    CHECK(larger.mapped && larger.cap >= 3 * big, "a larger buffer grows the spare");
    CHECK(holds_pattern(larger.data, 3 * big), "every byte in place");
    sbx_spare_keep(&spare, &larger);
    struct sbx_buf other = {.mappable = 1};
    CHECK(fill(&other, big, 7001) == 0, "append");
    char *other_mapping = other.data;
    sbx_spare_keep(&spare, &other); /* the one held before is unmapped */
    CHECK(spare.data == other_mapping, "the last kept is the spare");
    sbx_spare_drop(&spare);
    CHECK(!spare.data && spare.cap == 0, "dropped");
    sbx_spare_drop(&spare);
}

/* An allocator with lua_Alloc's contract that counts its live blocks and checks every
 * size it is told back against the size it allocated (kept in front of each block). */
struct counting {
    int live;
    int wrong_size;
};

static void *counting_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    struct counting *c = ud;
    size_t *real = p ? (size_t *)p - 2 : NULL;
    if (real && real[0] != osize) c->wrong_size++;
    if (nsize == 0) {
        if (real) c->live--;
        free(real);
        return NULL;
    }
    size_t *grown = realloc(real, nsize + 2 * sizeof(size_t));
    if (!grown) return NULL;
    if (!real) c->live++;
    grown[0] = nsize;
    return grown + 2;
}

/* A mappable buffer with an allocator grows as one of its blocks, the bytes `head` into
 * it; released, the block is exactly head + len + 1 bytes with the bytes and their NUL
 * at head, and the buffer is empty; freed unreleased, the block goes back. */
static void test_block(void)
{
    const size_t total = 5 * 1024 * 1024 + 3, head = 24;
    struct counting c = {0};
    struct sbx_bufsource source = {.alloc = {.realloc = counting_alloc, .ud = &c, .head = head}};
    struct sbx_buf b = {.mappable = 1, .source = &source};
    CHECK(fill(&b, 1000, 333) == 0 && !b.block && c.live == 0, "small: the heap");
    sbx_buf_reset(&b);
    CHECK(fill(&b, total, 7001) == 0, "filled");
    CHECK(b.block && !b.mapped && c.live == 1 + (b.move != NULL),
          "past %u bytes a block of the allocator (and its next, while it moves)", SBX_BUF_MAP_MIN);
    size_t len = 0;
    char *block = sbx_buf_release_block(&b, &len);
    CHECK(block && len == total && holds_pattern(block + head, total), "released whole");
    CHECK(((size_t *)block)[-2] == head + total + 1, "the block is head + len + 1 bytes");
    CHECK(!b.data && b.len == 0 && !b.block && b.mappable, "the buffer is empty");
    counting_alloc(&c, block, head + total + 1, 0);
    CHECK(c.live == 0 && c.wrong_size == 0, "given back at its size");

    struct sbx_buf other = {.mappable = 1, .source = &source};
    CHECK(fill(&other, 300000, 7001) == 0 && other.block, "another block");
    struct sbx_buf moved;
    sbx_buf_move(&other, &moved);
    CHECK(moved.block && moved.source == &source && holds_pattern(moved.data, 300000), "moved");
    CHECK(sbx_buf_release_block(&other, &len) == NULL, "an empty buffer has no block");
    sbx_buf_free(&moved);
    CHECK(c.live == 0 && c.wrong_size == 0, "freed with the allocator, at its size");
}

/* A block buffer past half full copies itself into its next block a little at a time:
 * no append copies more than twice its size (or SBX_BUF_MOVE_MIN), each counted in its
 * source's `copied`, every byte stays
 * readable where it was until the block is full, and the buffer then goes on in the
 * next block, whole. A reset or a release drops the move; an append larger than the next
 * block grows at once. Every block goes back at its size. */
static void test_block_moves_in_steps(void)
{
    const size_t head = 16, piece = 1000;
    struct counting c = {0};
    struct sbx_bufsource source = {.alloc = {.realloc = counting_alloc, .ud = &c, .head = head}};
    struct sbx_buf b = {.mappable = 1, .source = &source};
    CHECK(fill(&b, 70000, piece) == 0 && b.block && b.cap == 128 * 1024, "a block of 128 KiB");
    size_t at = 70000, most = 0, moves = 0;
    char chunk[1000];
    while (at < 600000) {
        char *data = b.data, *next = b.move ? b.move->next : NULL;
        size_t moved = b.move ? b.move->moved : 0;
        for (size_t i = 0; i < piece; i++) chunk[i] = (char)((at + i) * 131 % 251);
        size_t copied = source.copied;
        if (sbx_buf_append(&b, chunk, piece) != 0) break;
        at += piece;
        if (b.move && b.move->next == next && b.move->moved - moved > most) most = b.move->moved - moved;
        /* what the append copied: a move's step, or the rest of a finished one */
        size_t copies = next && b.data == next ? at - piece - moved
                        : b.move ? b.move->moved - (b.move->next == next ? moved : 0) : 0;
        CHECK(source.copied - copied == copies, "counted %zu copied, not %zu, at %zu",
              source.copied - copied, copies, at);
        if (next && b.data == next) {
            moves++;
            CHECK(holds_pattern(b.data, at), "whole in the next block at %zu", at);
        } else {
            CHECK(b.data == data || !next, "no block changed but by a finished move");
        }
        if (b.move) CHECK(c.live == 2 && b.len > b.cap / 2, "a next block past half full only");
    }
    CHECK(holds_pattern(b.data, at) && b.len == at, "every byte in order");
    CHECK(moves >= 2, "moved %zu times", moves);
    CHECK(most > 0 && most <= (2 * piece > SBX_BUF_MOVE_MIN ? 2 * piece : SBX_BUF_MOVE_MIN),
          "an append copied at most %zu", most);

    CHECK(b.move, "a move under way");
    sbx_buf_reset(&b);
    CHECK(!b.move && c.live == 1 && b.len == 0, "reset: the move dropped");
    CHECK(fill(&b, b.cap / 2 + 2 * piece, piece) == 0 && b.move, "moving again");
    size_t len = 0;
    char *block = sbx_buf_release_block(&b, &len);
    CHECK(block && c.live == 1 && holds_pattern(block + head, len), "released: the move dropped");
    counting_alloc(&c, block, head + len + 1, 0);

    struct sbx_buf big = {.mappable = 1, .source = &source};
    CHECK(fill(&big, 200000, piece) == 0 && big.move, "a move under way");
    char *huge = calloc(1, 1 << 20);
    CHECK(huge && sbx_buf_append(&big, huge, 1 << 20) == 0 && !big.move, "a large append");
    CHECK(big.len == 200000 + (1u << 20) && holds_pattern(big.data, 200000), "grew at once");
    free(huge);
    sbx_buf_free(&big);
    CHECK(c.live == 0 && c.wrong_size == 0, "every block back, at its size");
}

int main(void)
{
    test_block();
    test_block_moves_in_steps();
    test_mapped_growth();
    test_spare_reused();
    test_plain_stays_heap();
    test_take_and_move();
    return check_report();
}
