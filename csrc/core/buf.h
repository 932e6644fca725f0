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

struct sbx_buf {
    char *data;
    size_t len, cap;
    int mappable;   /* set by the owner: may become a mapping of its own (below) */
    int mapped;     /* data is a mapping of cap bytes, not malloc'd */
    struct sbx_spare *spare; /* set by the owner: a mapping it may grow into, or NULL */
};

/* A mappable buffer past this size becomes an anonymous mapping of its own, grown with
 * mremap: growth never copies what is there, and only the pages written get faulted
 * in, a few per chunk of output, instead of a heap move copying (and faulting in) the
 * whole buffer at once. */
#define SBX_BUF_MAP_MIN (64u * 1024u)

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
/* Moves the allocation to *to (which takes over freeing it) and empties b. */
void sbx_buf_move(struct sbx_buf *b, struct sbx_buf *to);

#endif
