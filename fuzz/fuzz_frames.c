/* libFuzzer target: the frames decoder. The input is fed whole, split at a point the
 * first byte chooses, and byte by byte; all must succeed or fail alike and make the same
 * calls. An output frame's pieces must add up to its length, and nothing is called after
 * a failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "frames.h"

struct capture {
    struct sbx_buf out;
    size_t frame_bytes;  /* of the output frame under way */
    int in_output;
    int failed;          /* the decoder failed: no call may follow */
};

static void record(struct capture *c, const void *p, size_t n)
{
    if (c->failed) abort();
    sbx_buf_append(&c->out, p, n);
}

static int on_begin(void *ud, int channel, uint64_t offset)
{
    struct capture *c = ud;
    if (c->in_output || (channel != 0 && channel != 1)) abort();
    c->in_output = 1;
    c->frame_bytes = 0;
    record(c, "<", 1);
    record(c, &offset, sizeof offset);
    return 0;
}

static int on_data(void *ud, const char *bytes, size_t n)
{
    struct capture *c = ud;
    if (!c->in_output || n == 0) abort();
    c->frame_bytes += n;
    if (c->frame_bytes > SBX_FRAME_MAX_OUTPUT) abort();
    record(c, bytes, n);
    return 0;
}

static int on_end(void *ud, int channel, uint64_t offset)
{
    struct capture *c = ud;
    if (!c->in_output) abort();
    c->in_output = 0;
    record(c, ">", 1);
    record(c, &channel, sizeof channel);
    record(c, &offset, sizeof offset);
    record(c, &c->frame_bytes, sizeof c->frame_bytes);
    return 0;
}

static int on_event(void *ud, const char *type, const char *data, size_t len)
{
    struct capture *c = ud;
    if (c->in_output || len > SBX_FRAME_MAX_LENGTH) abort();
    record(c, type, strlen(type) + 1);
    record(c, &len, sizeof len);
    record(c, data, len);
    return 0;
}

static const struct sbx_frames_fns FNS = {on_begin, on_data, on_end, on_event};

/* Feeds data in pieces: the first `cut` bytes, then the rest in pieces of `step` (0: one). */
static struct sbx_buf run(const uint8_t *data, size_t size, size_t cut, size_t step, int *rc)
{
    struct capture c = {0};
    struct sbx_frames F;
    sbx_frames_init(&F, &FNS, &c);
    *rc = sbx_frames_feed(&F, (const char *)data, cut);
    if (*rc) c.failed = 1;
    if (step == 0) step = size - cut ? size - cut : 1;
    for (size_t i = cut; i < size; i += step) {
        int r = sbx_frames_feed(&F, (const char *)data + i, size - i < step ? size - i : step);
        if (r) c.failed = 1;
        *rc |= r;
    }
    sbx_frames_free(&F);
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
    int rc1, rc2, rc3;
    struct sbx_buf whole = run(data + 1, size - 1, 0, 0, &rc1);
    struct sbx_buf split = run(data + 1, size - 1, cut > size - 1 ? size - 1 : cut, 0, &rc2);
    struct sbx_buf bytes = run(data + 1, size - 1, 0, 1, &rc3);
    if ((rc1 != 0) != (rc2 != 0) || (rc1 != 0) != (rc3 != 0)) abort();
    if (rc1 == 0 && (!same(&whole, &split) || !same(&whole, &bytes))) abort();
    sbx_buf_free(&whole);
    sbx_buf_free(&split);
    sbx_buf_free(&bytes);
    return 0;
}
