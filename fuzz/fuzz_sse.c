/* libFuzzer target: the SSE parser. The input is fed whole and again split at a point
 * the first byte chooses; both must succeed or fail alike and dispatch the same events.
 * The same again with a sink taking the data of "message" events as it is parsed: the
 * events must come out as they do without it (the sink fails one more case: a sunk
 * event whose type changes after its data began). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sse.h"

struct capture {
    struct sbx_buf out, sunk;
};

static int collect(void *ud, const char *type, const char *data, size_t len, const char *id)
{
    struct capture *c = ud;
    if (!data && len != c->sunk.len) abort(); /* the event must say what the sink got */
    sbx_buf_append(&c->out, type, strlen(type) + 1);
    sbx_buf_append(&c->out, id, strlen(id) + 1);
    sbx_buf_append(&c->out, &len, sizeof len);
    sbx_buf_append(&c->out, data ? data : c->sunk.data, len);
    sbx_buf_reset(&c->sunk);
    return 0;
}

static int wants(void *ud, const char *type)
{
    (void)ud;
    return strcmp(type, "message") == 0;
}

static int sink(void *ud, const char *bytes, size_t n)
{
    struct capture *c = ud;
    return sbx_buf_append(&c->sunk, bytes, n);
}

static struct sbx_buf run(const uint8_t *data, size_t size, size_t cut, int sinking, int *rc)
{
    struct capture c = {0};
    struct sbx_sse p;
    sbx_sse_init(&p, collect, &c, 64); /* small: inputs reach the limits */
    if (sinking) sbx_sse_set_sink(&p, wants, sink);
    *rc = sbx_sse_feed(&p, (const char *)data, cut);
    *rc |= sbx_sse_feed(&p, (const char *)data + cut, size - cut);
    sbx_sse_free(&p);
    sbx_buf_free(&c.sunk);
    return c.out;
}

static int same(const struct sbx_buf *a, const struct sbx_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t cut = data[0] % size;
    if (cut > size - 1) cut = size - 1;
    int rc1, rc2, rc3, rc4;
    struct sbx_buf whole = run(data + 1, size - 1, 0, 0, &rc1);
    struct sbx_buf split = run(data + 1, size - 1, cut, 0, &rc2);
    struct sbx_buf sunk = run(data + 1, size - 1, 0, 1, &rc3);
    struct sbx_buf sunk_split = run(data + 1, size - 1, cut, 1, &rc4);
    if (rc1 != rc2 || rc3 != rc4) abort(); /* the limits hold however the stream is split */
    if (rc1 == 0 && !same(&whole, &split)) abort(); /* the same stream split differently */
    if (rc3 == 0 && !same(&sunk, &sunk_split)) abort();
    if (rc1 != 0 && rc3 == 0) abort(); /* a sink never lets through what fails without it */
    if (rc1 == 0 && rc3 == 0 && !same(&whole, &sunk)) abort(); /* nor changes an event */
    sbx_buf_free(&whole);
    sbx_buf_free(&split);
    sbx_buf_free(&sunk);
    sbx_buf_free(&sunk_split);
    return 0;
}
