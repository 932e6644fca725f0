/* libFuzzer target: the SSE parser. The input is fed whole and again split at a point
 * the first byte chooses; both must succeed or fail alike and dispatch the same events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sse.h"

static int collect(void *ud, const char *type, const char *data, size_t len, const char *id)
{
    struct sbx_buf *out = ud;
    sbx_buf_append(out, type, strlen(type) + 1);
    sbx_buf_append(out, id, strlen(id) + 1);
    sbx_buf_append(out, &len, sizeof len);
    sbx_buf_append(out, data, len);
    return 0;
}

static struct sbx_buf run(const uint8_t *data, size_t size, size_t cut, int *rc)
{
    struct sbx_buf out = {0};
    struct sbx_sse p;
    sbx_sse_init(&p, collect, &out, 64); /* small: inputs reach the limits */
    *rc = sbx_sse_feed(&p, (const char *)data, cut);
    *rc |= sbx_sse_feed(&p, (const char *)data + cut, size - cut);
    sbx_sse_free(&p);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t cut = data[0] % size;
    int rc1, rc2;
    struct sbx_buf whole = run(data + 1, size - 1, 0, &rc1);
    struct sbx_buf split = run(data + 1, size - 1, cut > size - 1 ? size - 1 : cut, &rc2);
    if (rc1 != rc2) abort(); /* the limits hold however the stream is split */
    if (rc1 == 0 && (whole.len != split.len || memcmp(whole.data, split.data, whole.len)))
        abort(); /* the same stream split differently must give the same events */
    sbx_buf_free(&whole);
    sbx_buf_free(&split);
    return 0;
}
