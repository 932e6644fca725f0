/* Growable byte buffers: binary-safe, always NUL-terminated for convenience. */
#ifndef SBX_BUF_H
#define SBX_BUF_H
#include <stddef.h>

/* A mapping kept from a buffer that was let go, for the next one to grow into: its pages
 * are the system's already, so the bytes written there cost no page faults (a fresh page
 * costs a fault and zeroing, more than copying its bytes). Empty: data NULL. */
struct sbx_spare {
    char *data;
    size_t cap;
};

/* An allocator with lua_Alloc's contract: realloc(ud, NULL, kind, n) allocates n bytes,
 * realloc(ud, p, o, 0) frees a block of o bytes, realloc(ud, p, o, n) resizes it (and
 * never fails when n <= o). A large buffer given one grows as one block of it, its bytes
 * `head` bytes in, so that its owner can hand the block over whole at the end
 * (sbx_buf_release_block) instead of copying the bytes out. */
struct sbx_allocator {
    void *(*realloc)(void *ud, void *p, size_t osize, size_t nsize);
    void *ud;
    size_t head;
};

/* Where a mappable buffer's memory comes from once it is large: blocks of the allocator
 * when there is one, else mappings, the spare first when there is one. */
struct sbx_bufsource {
    struct sbx_allocator alloc;  /* realloc NULL: none */
    struct sbx_spare *spare;     /* a mapping to grow into first, or NULL */
    size_t copied;               /* bytes its buffers copied growing, all told (wraps) */
};

/* A block buffer's move to a larger block (SBX_BUF_MOVE_MAX), made when it begins (a
 * buffer holds a pointer, not this, as few become that large): its bytes from `next` on,
 * head bytes into a block of head + cap, where the first `moved` of the buffer's bytes are
 * copied so far. */
struct sbx_bufmove {
    char *next;
    size_t cap, moved;
};

struct sbx_buf {
    char *data;
    size_t len, cap;
    unsigned mappable : 1; /* set by the owner: may become a mapping or block (below) */
    unsigned mapped : 1;   /* data is a mapping of cap bytes, not malloc'd */
    unsigned block : 1;    /* data is source->alloc.head bytes into a block of head + cap */
    struct sbx_bufsource *source; /* set by the owner, or NULL: mappings of its own */
    struct sbx_bufmove *move;     /* a block's move to a larger one, under way, or NULL */
};

/* A mappable buffer past this size becomes a block of its allocator when it has one, else
 * an anonymous mapping of its own, grown with mremap: growth never copies what is there
 * (nor does a large block's, where the allocator maps large blocks, as glibc's does), and
 * only the pages written get faulted in, a few per chunk of output, instead of a heap
 * move copying (and faulting in) the whole buffer at once. Either is asked for
 * transparent huge pages: output is written once, front to back, and a huge page takes
 * one fault per 2 MiB instead of one per 4 KiB. */
#define SBX_BUF_MAP_MIN (64u * 1024u)

/* A block buffer that grows copies itself into its next block a little at a time, not
 * all at once when it is full: a move's copy lands in fresh pages, and a page's first
 * write costs a fault (far more than its bytes, on a virtual machine tens of
 * microseconds), so moving a block of 512 KiB at once would take milliseconds of one
 * step. Once it is half full, it takes the next block (twice the size) and each append of
 * n bytes copies 2n more of what it holds (at least SBX_BUF_MOVE_MIN): the copy is done
 * when the block is full, and the buffer then goes on in the next one. Every byte is in
 * the current block until then, so readers never see the move. Up to a next block of
 * this size: past it, glibc's allocator maps the block and grows it with mremap, which
 * copies nothing (and huge pages make fresh memory cheaper). */
#define SBX_BUF_MOVE_MAX (32u * 1024u * 1024u)
#define SBX_BUF_MOVE_MIN (4u * 1024u)

/* Takes over a mapped buffer's mapping as the spare (b is left empty); a spare held before
 * is unmapped. The pages are given to the system lazily (MADV_FREE): it may take them
 * back whenever it needs memory, and a buffer that grows into them later finds zeroes or
 * the old bytes, which it overwrites either way. */
void sbx_spare_keep(struct sbx_spare *s, struct sbx_buf *b);
/* Unmaps the spare, if any. */
void sbx_spare_drop(struct sbx_spare *s);

/* Appends n bytes; returns 0, or -1 when out of memory (the buffer is unchanged). */
int sbx_buf_append(struct sbx_buf *b, const void *p, size_t n);
/* Makes room for n more bytes (and the NUL) at data + len; 0, or -1 when out of memory. */
int sbx_buf_reserve(struct sbx_buf *b, size_t n);
void sbx_buf_reset(struct sbx_buf *b);   /* empties, keeps the allocation */
void sbx_buf_free(struct sbx_buf *b);    /* empties and frees */
/* Hands the bytes over to the caller (malloc'd, NUL-terminated) and empties the buffer. */
char *sbx_buf_take(struct sbx_buf *b, size_t *len);
/* Hands a block buffer's block over (b is left empty, mappable as before): its bytes at
 * source->alloc.head, then a NUL, in a block shrunk to exactly head + len + 1 bytes, which the
 * caller now owns (to be freed with the same allocator). NULL, b unchanged, when b is not
 * a block. */
char *sbx_buf_release_block(struct sbx_buf *b, size_t *len);
/* Moves the allocation to *to (which takes over freeing it, with b's source) and empties
 * b. */
void sbx_buf_move(struct sbx_buf *b, struct sbx_buf *to);

#endif
