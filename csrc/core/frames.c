#include "frames.h"
#include "protocol.h"

#include <string.h>

static const char BAD_TYPE[] = "a frame of an unknown type";
static const char TOO_LONG[] = "a frame over the 1 MiB limit";
static const char TOO_SHORT[] = "an output frame shorter than its offset";
static const char NO_MEMORY[] = "out of memory";
static const char STOPPED[] = "the frame's receiver stopped the stream";

void sbx_frames_init(struct sbx_frames *F, const struct sbx_frames_fns *fns, void *ud)
{
    memset(F, 0, sizeof *F);
    F->fns = fns;
    F->ud = ud;
    F->need = SBX_FRAME_HEAD_SIZE;
}

void sbx_frames_free(struct sbx_frames *F)
{
    sbx_buf_free(&F->payload);
}

int sbx_frames_between(const struct sbx_frames *F)
{
    return F->nhead == 0;
}

static int failed(struct sbx_frames *F, const char *why)
{
    F->error = why;
    return -1;
}

static uint64_t big_endian(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static int is_output(int type)
{
    return type == SBX_FRAME_STDOUT || type == SBX_FRAME_STDERR;
}

/* The next frame begins: the state of the one before goes (a start or end payload's
 * buffer too, as a stream mostly waits between frames). */
static void next_frame(struct sbx_frames *F)
{
    F->nhead = 0;
    F->need = SBX_FRAME_HEAD_SIZE;
    F->type = 0;
    sbx_buf_free(&F->payload);
}

/* The type and length are in: checked, and an output frame's head grows by its offset. */
static int check_head(struct sbx_frames *F)
{
    int type = F->head[0];
    uint32_t length = (uint32_t)big_endian(F->head + 1, 4);
    if (type < SBX_FRAME_STDOUT || type > SBX_FRAME_KEEPALIVE) return failed(F, BAD_TYPE);
    if (length > SBX_FRAME_MAX_LENGTH) return failed(F, TOO_LONG);
    if (is_output(type) && length < SBX_FRAME_OFFSET_SIZE) return failed(F, TOO_SHORT);
    F->length = length;
    if (is_output(type)) F->need = SBX_FRAME_HEAD_SIZE + SBX_FRAME_OFFSET_SIZE;
    return 0;
}

/* The whole head is in: the payload (what follows the offset, for output) comes next. */
static int begin_payload(struct sbx_frames *F)
{
    F->type = F->head[0];
    F->left = F->length;
    if (!is_output(F->type)) return 0;
    F->offset = big_endian(F->head + SBX_FRAME_HEAD_SIZE, SBX_FRAME_OFFSET_SIZE);
    F->left -= SBX_FRAME_OFFSET_SIZE;
    return F->fns->output_begin(F->ud, F->type - SBX_FRAME_STDOUT, F->offset) ? failed(F, STOPPED) : 0;
}

/* The frame's payload is complete. */
static int end_frame(struct sbx_frames *F)
{
    int rc = 0;
    if (is_output(F->type)) {
        rc = F->fns->output_end(F->ud, F->type - SBX_FRAME_STDOUT, F->offset);
    } else if (F->type == SBX_FRAME_START || F->type == SBX_FRAME_END) {
        const char *name = F->type == SBX_FRAME_START ? SBX_EV_START : SBX_EV_END;
        rc = F->fns->event(F->ud, name, F->payload.data ? F->payload.data : "", F->payload.len);
    } /* a keep-alive is nothing */
    next_frame(F);
    return rc ? failed(F, STOPPED) : 0;
}

int sbx_frames_cut(struct sbx_frames *F)
{
    if (F->error || !is_output(F->type) || F->nhead < F->need) return 0;
    if (F->length - SBX_FRAME_OFFSET_SIZE == F->left) return 0; /* none of its bytes came */
    int rc = F->fns->output_end(F->ud, F->type - SBX_FRAME_STDOUT, F->offset - F->left);
    next_frame(F);
    return rc ? failed(F, STOPPED) : 0;
}

/* Head bytes; returns how many of the n it used, or (size_t)-1 when the head is bad. */
static size_t take_head(struct sbx_frames *F, const char *s, size_t n)
{
    size_t k = F->need - F->nhead < n ? F->need - F->nhead : n;
    memcpy(F->head + F->nhead, s, k);
    F->nhead += k;
    if (F->nhead == SBX_FRAME_HEAD_SIZE && F->need == SBX_FRAME_HEAD_SIZE && check_head(F))
        return (size_t)-1;
    if (F->nhead == F->need && begin_payload(F)) return (size_t)-1;
    return k;
}

/* Payload bytes; returns how many of the n it used, or (size_t)-1 on failure. */
static size_t take_payload(struct sbx_frames *F, const char *s, size_t n)
{
    size_t k = F->left < n ? F->left : n;
    if (is_output(F->type)) {
        if (k && F->fns->output_data(F->ud, s, k)) return failed(F, STOPPED), (size_t)-1;
    } else if (F->type != SBX_FRAME_KEEPALIVE) {
        if (sbx_buf_append(&F->payload, s, k)) return failed(F, NO_MEMORY), (size_t)-1;
    }
    F->left -= k;
    return k;
}

int sbx_frames_feed(struct sbx_frames *F, const char *bytes, size_t n)
{
    if (F->error) return -1;
    while (n > 0 || (F->type && F->left == 0)) {
        if (F->type && F->left == 0) { /* a frame whose payload is complete */
            if (end_frame(F)) return -1;
            continue;
        }
        size_t used = F->type ? take_payload(F, bytes, n) : take_head(F, bytes, n);
        if (used == (size_t)-1) return -1;
        bytes += used, n -= used;
    }
    return 0;
}
