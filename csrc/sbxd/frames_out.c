/* The binary frames format of a process's stream (Accept: application/vnd.sbx.frames):
 * each frame is `type u8 | length u32 BE | payload`, one HTTP chunk. An output frame's
 * payload is its offset after (u64 BE) and the bytes themselves, raw: small output is
 * copied into the write with whatever else is due, and output of FRAME_COPY_MAX or more
 * goes from the log to the socket uncopied (writev), one such frame a write, which may
 * be sent over several writes: the reader's cursor moves as its bytes go, so the log
 * keeps them (they are above its floor) until then. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "protocol.h"
#include "stream.h"

#define OFFSET_LEN 8u                  /* an output frame's offset after */
#define FRAME_COPY_MAX 16384u          /* output below this is copied into the write */
#define FRAME_IOV_MAX 64               /* pieces of one write: its text, log records, tail */
#define TAIL_ROOM (2u + STREAM_END_ROOM)

/* The head of an output frame of `len` bytes ending at offset `after`. */
static void add_output_head(struct batch *b, enum sbxd_channel ch, size_t len, uint64_t after)
{
    sbxd_frame_head(b, ch == SBXD_STDOUT ? SBX_FRAME_STDOUT : SBX_FRAME_STDERR, OFFSET_LEN + len);
    b->pos = stream_put_be(b->pos, after, 8);
}

/* How many bytes from the cursor on one uncopied frame takes: those of one channel, at
 * most SBX_FRAME_DATA_MAX, in at most FRAME_IOV_MAX - 3 records. */
static uint64_t frame_run(const struct sbxd_outlog *log, struct sbxd_cursor at, enum sbxd_channel ch)
{
    uint64_t total = 0;
    enum sbxd_channel c;
    const unsigned char *bytes;
    size_t n;
    for (int k = 0; k < FRAME_IOV_MAX - 3 && total < SBX_FRAME_DATA_MAX; k++) {
        if (!(n = sbxd_outlog_read(log, &at, SBX_FRAME_DATA_MAX - total, &c, &bytes)) || c != ch) break;
        total += n;
        sbxd_outlog_advance(&at, n);
    }
    return total;
}

/* Output into the batch: small frames copied while they fit; at the first large one its
 * head, and frame_left says how much of the log follows it. */
static void add_output(struct sbxd_sse *s, struct batch *b)
{
    struct sbxd_proc *p = s->proc;
    struct sbxd_cursor *cur = &s->reader.cur;
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n;
    while ((n = sbxd_outlog_read(&p->log, cur, FRAME_COPY_MAX, &ch, &bytes)) > 0) {
        if (batch_room(b) < n + 64 + STREAM_END_ROOM) return;
        if (n == FRAME_COPY_MAX) {
            s->frame_left = frame_run(&p->log, *cur, ch);
            add_output_head(b, ch, (size_t)s->frame_left, cur->pos + s->frame_left);
            return;
        }
        add_output_head(b, ch, n, cur->pos + n);
        memcpy(b->pos, bytes, n);
        memcpy(b->pos + n, "\r\n", 2);
        b->pos += n + 2;
        sbxd_outlog_advance(cur, n);
        sbxd_proc_drained(p);
    }
}

/* Everything due that fits, in stream order (as SSE's fill_batch). */
static int fill(struct sbxd_sse *s, struct batch *b)
{
    struct sbxd_proc *p = s->proc;
    if (!sbxd_proc_started_yet(p)) return 0;
    if (s->head_due && sbxd_stream_add_head(s, b)) return -1;
    add_output(s, b);
    if (!s->frame_left && sbxd_proc_finished_for(p, &s->reader)) sbxd_stream_add_end(s, b);
    else if (b->pos == b->start && !s->frame_left && s->keepalive_due) sbxd_stream_add_keepalive(s, b);
    s->keepalive_due = 0;
    return 0;
}

/* The log pieces of the frame begun, and its tail: the chunk's CRLF, and the end when
 * the frame is the last of a finished process. Returns the pieces in all. (frame_run
 * left room for every record of the frame; were one left out, so would the tail be,
 * and account() would carry the rest over.) */
static int add_frame_pieces(struct sbxd_sse *s, struct iovec *iov, int n, struct batch *tail)
{
    struct sbxd_cursor at = s->reader.cur;
    uint64_t left = s->frame_left;
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t got;
    while (left && n < FRAME_IOV_MAX - 1 && (got = sbxd_outlog_read(&s->proc->log, &at, left, &ch, &bytes))) {
        iov[n++] = (struct iovec){(void *)bytes, got};
        sbxd_outlog_advance(&at, got);
        left -= got;
    }
    if (left) return n;
    memcpy(tail->pos, "\r\n", 2);
    tail->pos += 2;
    if (sbxd_proc_done(s->proc) && at.pos == s->proc->log.end) sbxd_stream_add_end(s, tail);
    iov[n++] = (struct iovec){tail->start, (size_t)(tail->pos - tail->start)};
    return n;
}

/* Keeps the unsent rest of a text piece for the next write. */
static int keep_text(struct sbxd_sse *s, const unsigned char *bytes, size_t len)
{
    unsigned char *rest = malloc(len);
    if (!rest) return -1;
    memcpy(rest, bytes, len);
    free(s->unsent);
    s->unsent = rest;
    s->unsent_len = len;
    return 0;
}

/* Accounts for `sent` bytes of the pieces: text first (pieces[0] when `lead`), then the
 * frame's log bytes (the cursor moves on), then its tail (the last piece). */
static int account(struct sbxd_sse *s, const struct iovec *iov, int n, int lead, size_t sent)
{
    if (lead) {
        size_t take = sent < iov[0].iov_len ? sent : iov[0].iov_len;
        sent -= take;
        if (take < iov[0].iov_len) return keep_text(s, (unsigned char *)iov[0].iov_base + take, iov[0].iov_len - take);
        if (s->unsent == iov[0].iov_base) {
            free(s->unsent);
            s->unsent = NULL;
            s->unsent_len = 0;
        }
    }
    if (!s->frame_left) return 0;
    uint64_t data = sent < s->frame_left ? sent : s->frame_left;
    sbxd_outlog_advance(&s->reader.cur, (size_t)data);
    s->frame_left -= data;
    sent -= (size_t)data;
    if (data) sbxd_proc_drained(s->proc);
    if (s->frame_left) return 0;
    const struct iovec *tail = &iov[n - 1];
    return sent < tail->iov_len ? keep_text(s, (unsigned char *)tail->iov_base + sent, tail->iov_len - sent) : 0;
}

int sbxd_frames_write(struct sbxd_sse *s, unsigned char *buf, size_t room)
{
    static unsigned char tail_buf[TAIL_ROOM];
    struct iovec iov[FRAME_IOV_MAX];
    struct batch b = {buf, buf, buf + room}, tail = {tail_buf, tail_buf, tail_buf + TAIL_ROOM};
    int n = 0, lead;
    if (s->unsent) {
        iov[n++] = (struct iovec){s->unsent, s->unsent_len};
    } else if (!s->frame_left) {
        if (s->end_sent) return sbxd_stream_end_response(s);
        if (fill(s, &b)) return -1;
        if (b.pos > b.start) iov[n++] = (struct iovec){b.start, (size_t)(b.pos - b.start)};
    }
    lead = n;
    /* Unsent text with a frame begun is the text before its log bytes (account()). */
    if (s->frame_left) n = add_frame_pieces(s, iov, n, &tail);
    if (n == 0) return 0;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(lws_get_socket_fd(s->wsi), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN && errno != EINTR) return -1;
    if (account(s, iov, n, lead, w < 0 ? 0 : (size_t)w)) return -1;
    s->wrote_since_tick = 1;
    if (s->unsent || s->frame_left) return sbxd_stream_want_write(s);
    if (s->end_sent) return sbxd_stream_end_response(s);
    return sbxd_stream_has_news(s) ? sbxd_stream_want_write(s) : 0;
}
