/* Incremental decoder of a frames stream (Content-Type application/vnd.sbx.frames,
 * docs/PROTOCOL.md "Binary frames"): a sequence of `type: u8 | length: u32 BE | payload`.
 * Pure: no I/O. Feed it bytes as they arrive, split anywhere. An output frame's bytes go
 * to the caller piece by piece as they arrive (the decoder keeps no copy of them); the
 * payload of a start or end frame is handed over whole. Bounded: a frame longer than
 * SBX_FRAME_MAX_LENGTH, a type it does not know, or an output frame too short for its
 * offset fails the stream, and nothing is called after. */
#ifndef SBX_FRAMES_H
#define SBX_FRAMES_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

enum sbx_frame_type {
    SBX_FRAME_STDOUT = 1,
    SBX_FRAME_STDERR = 2,
    SBX_FRAME_START = 3,
    SBX_FRAME_END = 4,
    SBX_FRAME_KEEPALIVE = 5,
};

#define SBX_FRAME_MAX_OUTPUT (1024u * 1024u)      /* an output frame's bytes */
#define SBX_FRAME_OFFSET_SIZE 8u                  /* its offset_after, before them */
#define SBX_FRAME_MAX_LENGTH (SBX_FRAME_MAX_OUTPUT + SBX_FRAME_OFFSET_SIZE)
#define SBX_FRAME_HEAD_SIZE 5u                    /* type and length */

/* What the decoder calls; each returns 0 to go on, non-zero to fail the stream. An output
 * frame is output_begin, output_data for each piece of its bytes (none for an empty one),
 * then output_end; `channel` is 0 for stdout, 1 for stderr, `offset` the frame's
 * offset_after. `event` gets a start or end frame: its type (SBX_EV_START, SBX_EV_END) and payload. */
struct sbx_frames_fns {
    int (*output_begin)(void *ud, int channel, uint64_t offset);
    int (*output_data)(void *ud, const char *bytes, size_t n);
    int (*output_end)(void *ud, int channel, uint64_t offset);
    int (*event)(void *ud, const char *type, const char *data, size_t len);
};

struct sbx_frames {
    const struct sbx_frames_fns *fns;
    void *ud;
    unsigned char head[SBX_FRAME_HEAD_SIZE + SBX_FRAME_OFFSET_SIZE]; /* the frame's so far */
    size_t nhead;
    size_t need;            /* head bytes this frame has: 5, or 13 for an output frame */
    int type;               /* the frame's, once its head is whole; 0 before */
    uint32_t length;
    uint64_t offset;        /* an output frame's offset_after */
    size_t left;            /* payload bytes still to come once the head is whole */
    struct sbx_buf payload; /* a start or end frame's, as it arrives */
    const char *error;      /* why the stream failed; NULL while it has not */
};

void sbx_frames_init(struct sbx_frames *F, const struct sbx_frames_fns *fns, void *ud);
void sbx_frames_free(struct sbx_frames *F);
/* Returns 0, or -1 when the stream is malformed, memory ran out or a callback stopped it
 * (F->error says which); every later call then fails too. */
int sbx_frames_feed(struct sbx_frames *F, const char *bytes, size_t n);
/* The stream was cut: an output frame it was in the middle of ends with the bytes that
 * came of it, as a frame of its own whose offset_after is where they stop (the bytes of
 * a frame are consecutive from offset_after - length): nothing received is lost, and a
 * resume from there is exact. 0, or -1 as sbx_frames_feed. */
int sbx_frames_cut(struct sbx_frames *F);
/* Whether the stream stopped between frames (a cut there loses no part of a frame). */
int sbx_frames_between(const struct sbx_frames *F);

#endif
