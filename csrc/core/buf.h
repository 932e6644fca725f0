/* Growable byte buffers: binary-safe, always NUL-terminated for convenience. */
#ifndef SBX_BUF_H
#define SBX_BUF_H
#include <stddef.h>

struct sbx_buf {
    char *data;
    size_t len, cap;
};

/* Appends n bytes; returns 0, or -1 when out of memory (the buffer is unchanged). */
int sbx_buf_append(struct sbx_buf *b, const void *p, size_t n);
/* Makes room for n more bytes (and the NUL) at data + len; 0, or -1 when out of memory. */
int sbx_buf_reserve(struct sbx_buf *b, size_t n);
void sbx_buf_reset(struct sbx_buf *b);   /* empties, keeps the allocation */
void sbx_buf_free(struct sbx_buf *b);    /* empties and frees */
/* Hands the bytes over to the caller (malloc'd, NUL-terminated) and empties the buffer. */
char *sbx_buf_take(struct sbx_buf *b, size_t *len);

#endif
