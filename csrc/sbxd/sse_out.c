/* A process's stream on its connection: it begins, takes the process's news and its
 * timer's ticks, writes, and closes; and the stream's SSE output: chunks as base64 with
 * their offsets (stream_parts.c writes the start, keep-alives and the end; frames_out.c
 * the binary format's output). Each event is one HTTP chunk; one write carries as many
 * as fit, so a short command's whole answer (head, start, output, end) is one write and
 * wakes the client once. While the stream runs lws leaves the connection to sbxd
 * (connwatch.h): sbxd writes when the watch says the socket can take more, except the
 * last writes of a command that has exited with its pipes at EOF (see news()). */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "base64.h"
#include "protocol.h"
#include "stream.h"

#define RAW_CHUNK 49152u                 /* base64 of it is 64 KiB */
#define CHUNK_FRAME STREAM_CHUNK_LINE
/* One write carries up to 8 output events (64 KiB of base64 each, see http.h): bulk
 * output then costs a send, a wakeup of its reader (and of a proxy between) and a turn
 * of the loop per 384 KiB of output rather than per 48 KiB. Only what is due goes: a
 * batch never waits to fill. */
#define BATCH_ROOM (8u * SBXD_WRITE_MAX)
#define SBXD_HEAD_HOLD_MS 2u             /* longest wait of a stream's head for company */

/* Appends the next output event when it fits whole; 0 when it does not (or none is
 * left). The base64 is written straight into the batch. */
static int add_output(struct sbxd_sse *s, struct batch *b)
{
    struct sbxd_proc *p = s->proc;
    struct sbxd_cursor *cur = &s->reader.cur;
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n = sbxd_outlog_read(&p->log, cur, RAW_CHUNK, &ch, &bytes);
    if (n == 0) return 0;
    char head[64];
    int hl = snprintf(head, sizeof head, "event: %s\nid: %" PRIu64 "\ndata: ",
                      ch == SBXD_STDOUT ? SBX_EV_STDOUT : SBX_EV_STDERR, cur->pos + n);
    size_t len = (size_t)hl + b64_encoded_len(n) + 2;
    if (batch_room(b) < len + CHUNK_FRAME + SBXD_END_ROOM) return 0;
    b->pos += sprintf((char *)b->pos, "%zx\r\n", len);
    memcpy(b->pos, head, (size_t)hl);
    b->pos += hl;
    b->pos += b64_encode(bytes, n, (char *)b->pos);
    memcpy(b->pos, "\n\n\r\n", 4);
    b->pos += 4;
    sbxd_outlog_advance(cur, n);
    sbxd_proc_drained(p);
    return 1;
}

/* Fills a batch with everything due that fits, in stream order. */
static int fill_batch(struct sbxd_sse *s, struct batch *b)
{
    struct sbxd_proc *p = s->proc;
    if (!sbxd_proc_started_yet(p)) return 0; /* its output waits for its start event */
    if (s->head_due && sbxd_stream_add_head(s, b)) return -1;
    while (sbxd_proc_unread(p, &s->reader) && add_output(s, b)) {}
    if (sbxd_proc_finished_for(p, &s->reader)) sbxd_stream_add_end(s, b);
    else if (b->pos == b->start && s->keepalive_due) sbxd_stream_add_keepalive(s, b);
    s->keepalive_due = 0;
    return 0;
}

/* Sends bytes on the stream's socket; what it does not take now is kept for when it
 * can. Returns -1 when the client is gone. */
static int send_or_keep(struct sbxd_sse *s, const unsigned char *bytes, size_t len)
{
    ssize_t n = send(lws_get_socket_fd(s->wsi), bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    size_t sent = n < 0 ? 0 : (size_t)n;
    if (sent == len) return 0;
    unsigned char *rest = malloc(len - sent);
    if (!rest) return -1;
    memcpy(rest, bytes + sent, len - sent);
    s->unsent = rest;
    s->unsent_len = len - sent;
    return 0;
}

/* Sends the rest of the last write, if the socket takes it all. */
static int send_unsent(struct sbxd_sse *s)
{
    unsigned char *rest = s->unsent;
    size_t len = s->unsent_len;
    s->unsent = NULL;
    s->unsent_len = 0;
    int rc = send_or_keep(s, rest, len);
    free(rest);
    return rc;
}

/* Writes what is due, in one write, once the socket took everything before it.
 * Returns -1 when the connection must close, 1 when the response ended (the stream,
 * its process and c are gone), 0 while it goes on. */
static int write_batch(struct sbxd_sse *s)
{
    static unsigned char buf[BATCH_ROOM];
    if (s->frames) return sbxd_frames_write(s, buf, sizeof buf);
    if (s->unsent && send_unsent(s)) return -1;
    if (s->unsent) return sbxd_stream_want_write(s);
    if (s->end_sent) return sbxd_stream_end_response(s);
    struct batch b = {buf, buf, buf + BATCH_ROOM};
    if (fill_batch(s, &b)) return -1;
    size_t n = (size_t)(b.pos - b.start);
    if (n == 0) return 0;
    if (send_or_keep(s, b.start, n)) return -1;
    s->wrote_since_tick = 1;
    if (s->unsent) return sbxd_stream_want_write(s);
    if (s->end_sent) return sbxd_stream_end_response(s);
    return sbxd_stream_has_news(s) ? sbxd_stream_want_write(s) : 0;
}

/* The connection closes now, killing the command (sbxd_sse_close detaches it); the close
 * waits for no timeout sweep of lws. */
static void close_stream(struct lws *wsi)
{
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* The process has something new (output, exit) or the ticker ticked: sends it now or
 * waits for the socket. May end the response, which frees the stream and the process. */
static void news(struct sbxd_sse *s)
{
    struct sbxd_conn *c = lws_wsi_user(s->wsi);
    if (s->head_released && !s->proc->exited && !c->watched && sbxd_stream_watch(s)) {
        close_stream(s->wsi);
        return;
    }
    if (!sbxd_stream_has_news(s)) return;
    /* Once the command has exited and its pipes are at EOF, everything it will ever say
     * is here: it goes out now rather than a loop turn later, unless an earlier write is
     * still waiting for the socket (order requires waiting with it). */
    if (sbxd_proc_done(s->proc) && !s->unsent) {
        if (write_batch(s) < 0) close_stream(s->wsi);
        return;
    }
    if (sbxd_stream_want_write(s)) close_stream(s->wsi);
}

static struct sbxd_sse *stream_of(struct sbxd_reader *r)
{
    return (struct sbxd_sse *)((char *)r - offsetof(struct sbxd_sse, reader));
}

static void on_proc_news(struct sbxd_reader *r)
{
    news(stream_of(r));
}

static void free_handle(uv_handle_t *h) { free(h); }

static void close_ticker(struct sbxd_sse *s)
{
    if (s->ticker) uv_close((uv_handle_t *)s->ticker, free_handle);
    s->ticker = NULL;
}

/* At shutdown: the process is freed before lws closes the connection. */
static void on_proc_gone(struct sbxd_reader *r)
{
    struct sbxd_sse *s = stream_of(r);
    s->proc = NULL;
    close_ticker(s);
}

/* The command did not start: the answer is that error instead of a stream (no byte of
 * the stream has gone: its head waits for the start). */
static void on_start_failed(struct sbxd_reader *r, const struct sbxd_err *err)
{
    struct sbxd_sse *s = stream_of(r);
    struct lws *wsi = s->wsi;
    static unsigned char buf[SBXD_HEAD_ROOM + 512];
    char body[400];
    json_t *doc = sbxd_error_doc(err);
    int blen = doc ? json_dumpb(doc, body, sizeof body, JSON_COMPACT) : 0;
    json_decref(doc);
    unsigned char *pos = buf, *end = buf + SBXD_HEAD_ROOM;
    s->end_sent = 1;
    if (blen <= 0 || (size_t)blen > sizeof body ||
        lws_add_http_common_headers(wsi, (unsigned)err->status, "application/json", (lws_filepos_t)blen, &pos, end) ||
        lws_finalize_http_header(wsi, &pos, end)) {
        close_stream(wsi);
        return;
    }
    memcpy(pos, body, (size_t)blen);
    pos += blen;
    if (send_or_keep(s, buf, (size_t)(pos - buf))) close_stream(wsi);
    else if (s->unsent ? sbxd_stream_want_write(s) : sbxd_stream_end_response(s) < 0) close_stream(wsi);
}

static const struct sbxd_reader_ops SSE_READER = {on_proc_news, on_proc_news, on_proc_gone, on_start_failed};

/* The stream's timer. Its first tick ends the hold of the response head (see
 * sbxd_sse_begin); the next ones, a keep-alive interval apart, mark an interval with
 * nothing written, so the stream gets a keep-alive comment. */
static void on_tick(uv_timer_t *t)
{
    struct sbxd_sse *s = t->data;
    if (!s->head_released) {
        s->head_released = 1;
    } else {
        if (!s->wrote_since_tick) s->keepalive_due = 1;
        s->wrote_since_tick = 0;
    }
    news(s); /* may free s */
}

static int start_ticker(struct sbxd_sse *s)
{
    s->ticker = malloc(sizeof *s->ticker);
    if (!s->ticker) return -1;
    uv_timer_init(&s->srv->loop, s->ticker);
    s->ticker->data = s;
    return uv_timer_start(s->ticker, on_tick, SBXD_HEAD_HOLD_MS, sbxd_timeout_ms(s->srv->keepalive));
}

static void stream_free(struct sbxd_sse *s)
{
    close_ticker(s);
    free(s->unsent);
    free(s);
}

/* The head waits for the first thing to go with it (output or the end) or for its hold
 * to pass: a short command's answer is then one write, one wakeup of the client.
 * lws stops reading the connection: input that came after the request (a pipelined
 * request, a stray CRLF) waits in lws, or in the socket, until the response is over;
 * lws would otherwise take it for more of the request being answered and dispatch that
 * request again. On failure p is left as it would be without this reader. */
int sbxd_sse_begin(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p, uint64_t offset, int frames)
{
    struct sbxd_sse *s = calloc(1, sizeof *s);
    if (!s) return sbxd_proc_unattended(p), -1;
    s->reader.ops = &SSE_READER;
    s->srv = p->srv;
    s->wsi = wsi;
    s->proc = p;
    s->head_due = 1;
    s->frames = frames;
    if (start_ticker(s)) return stream_free(s), sbxd_proc_unattended(p), -1;
    c->stream = s;
    sbxd_proc_attach(p, &s->reader, offset);
    lws_rx_flow_control(wsi, 0);
    lws_http_headers_detach(wsi);
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    if (!sbxd_stream_has_news(s) || sbxd_stream_want_write(s) == 0) return 0;
    c->stream = NULL;
    sbxd_sse_close(s);
    return -1;
}

void sbxd_sse_close(struct sbxd_sse *s)
{
    if (s->proc) sbxd_proc_detach(s->proc, &s->reader);
    stream_free(s);
}

int sbxd_sse_writable(struct lws *wsi, struct sbxd_conn *c)
{
    (void)wsi;
    struct sbxd_sse *s = c->stream;
    s->write_wanted = 0;
    int rc = write_batch(s);
    if (rc) return rc < 0 ? -1 : 0;
    return sbxd_stream_watch(s); /* no more writability asked for, unless a write is wanted */
}

/* A client that only shut down its sending side still reads the stream; one that closed
 * its socket answers the next write with a reset, which the watch reports as a hang-up.
 * So the next write comes now: a keep-alive comment, unless something else is due. */
int sbxd_sse_half_closed(struct lws *wsi, struct sbxd_conn *c)
{
    (void)wsi;
    struct sbxd_sse *s = c->stream;
    s->half_closed = 1;
    s->keepalive_due = 1;
    return s->write_wanted ? sbxd_stream_watch(s) : sbxd_stream_want_write(s);
}
