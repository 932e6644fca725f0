#include "buf.h"

#include <stdlib.h>
#include <string.h>

int sbx_buf_reserve(struct sbx_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
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
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void sbx_buf_free(struct sbx_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *sbx_buf_take(struct sbx_buf *b, size_t *len)
{
    if (!b->data && sbx_buf_append(b, "", 0) != 0) return NULL;
    char *d = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
