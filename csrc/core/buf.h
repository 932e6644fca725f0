/* Growable byte buffers: binary-safe, always NUL-terminated for convenience. */
#ifndef SBX_BUF_H
#define SBX_BUF_H
#include <stddef.h>

struct sbx_buf {
    char *data;
    size_t len, cap;
    int mappable;   /* set by the owner: may become a mapping of its own (below) */
    int mapped;     /* data is a mapping of cap bytes, not malloc'd */
};

/* A mappable buffer past this size becomes an anonymous mapping of its own, grown with
 * mremap: growth never copies what is there, and only the pages written get faulted
 * in, a few per chunk of output, instead of a heap move copying (and faulting in) the
 * whole buffer at once. */
#define SBX_BUF_MAP_MIN (64u * 1024u)

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
