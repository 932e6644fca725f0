/* A process's stream on one connection, shared by its two formats: SSE (sse_out.c, which
 * also runs the stream: its timers and news) and binary frames (frames_out.c), and the
 * parts both write (stream_parts.c). Private to those three files. */
#ifndef SBXD_STREAM_H
#define SBXD_STREAM_H
#include <stdint.h>
#include "http.h"

/* One stream: the reader of one process, writing it on one connection. It lives from
 * sbxd_sse_begin until the connection's transaction ends (sbxd_sse_close). */
struct sbxd_sse {
    struct sbxd_reader reader;         /* attached to proc while proc is set */
    struct sbxd_server *srv;
    struct lws *wsi;
    struct sbxd_proc *proc;            /* NULL once freed at shutdown */
    uv_timer_t *ticker;                /* head hold, then keep-alives */
    int frames;                        /* binary frames, not SSE */
    int end_sent, wrote_since_tick, keepalive_due;
    int head_due, head_released;       /* response head not sent yet; its hold is over */
    int write_wanted;                  /* a write is asked of the watch */
    int half_closed;                   /* the client shut down its sending side */
    unsigned char *unsent;             /* the rest of a write the socket did not take */
    size_t unsent_len;
    uint64_t frame_left;               /* frames: bytes of the output frame begun that are
                                          still in the log, from the reader's cursor on */
};

/* What one write sends, built in place. */
struct batch {
    unsigned char *start, *pos, *end;
};

static inline size_t batch_room(const struct batch *b)
{
    return (size_t)(b->end - b->pos);
}

static inline unsigned char *stream_put_be(unsigned char *at, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) at[bytes - 1 - i] = (unsigned char)(v >> (8 * i));
    return at + bytes;
}

#define STREAM_END_ROOM SBXD_END_ROOM  /* the end and the last chunk always fit after output */
#define STREAM_CHUNK_LINE 16u          /* a chunk's size line and closing CRLF, at most */

/* stream_parts.c: the response head and the start (SSE event or frame), the end and the
 * response's last chunk, a keep-alive; whether anything is due now; the stream's watch
 * brought up to date (-1 when it fails); a write asked of the watch; the response over
 * once all is sent (1, or -1 when the connection must close); a frame's chunk size line
 * and head, and a whole frame (start, end, keep-alive) as one chunk. */
int sbxd_stream_add_head(struct sbxd_sse *s, struct batch *b);
void sbxd_stream_add_end(struct sbxd_sse *s, struct batch *b);
void sbxd_stream_add_keepalive(struct sbxd_sse *s, struct batch *b);
int sbxd_stream_has_news(const struct sbxd_sse *s);
int sbxd_stream_watch(struct sbxd_sse *s);
int sbxd_stream_want_write(struct sbxd_sse *s);
int sbxd_stream_end_response(struct sbxd_sse *s);
void sbxd_frame_head(struct batch *b, unsigned type, size_t len);
void sbxd_frames_add(struct batch *b, unsigned type, const char *payload, size_t len);

/* frames_out.c: the write of a frames stream: like SSE's, but output of some size goes
 * from the log to the socket uncopied. Returns as SSE's write does. */
int sbxd_frames_write(struct sbxd_sse *s, unsigned char *buf, size_t room);

#endif
