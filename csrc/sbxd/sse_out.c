/* The stream of a process, and its SSE format: start, output chunks as base64 with their
 * offsets, keep-alive comments, end (frames_out.c has the binary one). Each event is one HTTP chunk; one write carries as many as fit,
 * so a short command's whole answer (head, start, output, end) is one write and wakes
 * the client once. While the stream runs lws leaves the connection to sbxd
 * (connwatch.h): sbxd writes when the watch says the socket can take more, except the
 * last writes of a command that has exited with its pipes at EOF (see sbxd_sse_news). */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "base64.h"
#include "connwatch.h"
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

/* Appends a whole event (or comment) as one chunk. */
static void add_text(struct batch *b, const char *text, size_t len)
{
    b->pos += sprintf((char *)b->pos, "%zx\r\n", len);
    memcpy(b->pos, text, len);
    memcpy(b->pos + len, "\r\n", 2);
    b->pos += len + 2;
}

/* The response head and the start event. The stream is chunked, not close-delimited,
 * so the connection outlives the command and the client's next request reuses it. */
int sbxd_stream_add_head(struct sbxd_sse *s, struct batch *b)
{
    struct lws *wsi = s->wsi;
    const struct sbxd_proc *p = s->proc;
    const char *type = s->frames ? SBX_FRAMES_TYPE : "text/event-stream";
    unsigned char *pos = b->pos, *end = b->pos + SBXD_HEAD_ROOM;
    if (lws_add_http_header_status(wsi, HTTP_STATUS_OK, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)type,
                                     (int)strlen(type), &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-cache", 8, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                     (const unsigned char *)"chunked", 7, &pos, end) ||
        lws_finalize_http_header(wsi, &pos, end))
        return -1;
    b->pos = pos;
    char data[128]; /* keepalive: how long the client may hear nothing while sbxd lives */
    int n = snprintf(data, sizeof data, "{\"pid\":%d,\"keepalive\":%g,\"serial\":%" PRIu64 ",\"from\":%" PRIu64 "}",
                     (int)p->pid, p->srv->keepalive, p->serial, s->reader.cur.pos);
    if (n < 0 || (size_t)n >= sizeof data) return -1;
    if (s->frames) {
        sbxd_frames_add(b, SBX_FRAME_START, data, (size_t)n);
    } else {
        char event[192];
        int len = snprintf(event, sizeof event, "event: " SBX_EV_START "\ndata: %s\n\n", data);
        add_text(b, event, (size_t)len);
    }
    s->head_due = 0;
    sbxd_proc_start_sent(s->proc);
    return 0;
}

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

#define END_DATA_MAX SBXD_END_DATA_MAX

size_t sbxd_end_data(const struct sbxd_proc *p, char out[SBXD_END_DATA_MAX])
{
    int st = p->status, n;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        const char *abbrev = sigabbrev_np(sig);
        char name[32];
        snprintf(name, sizeof name, "SIG%s", abbrev ? abbrev : "UNKNOWN");
        if (p->reason)
            n = snprintf(out, END_DATA_MAX, "{\"exit_code\":%d,\"signal\":\"%s\",\"error\":\"%s\"}", 128 + sig,
                         name, p->reason);
        else
            n = snprintf(out, END_DATA_MAX, "{\"exit_code\":%d,\"signal\":\"%s\",\"error\":\"signal: %s\"}",
                         128 + sig, name, name);
    } else {
        n = snprintf(out, END_DATA_MAX, "{\"exit_code\":%d,\"signal\":null,\"error\":null}", WEXITSTATUS(st));
    }
    return n > 0 && (size_t)n < END_DATA_MAX ? (size_t)n : 0;
}

/* The end event, then the terminating chunk: the response is over. */
void sbxd_stream_add_end(struct sbxd_sse *s, struct batch *b)
{
    char data[END_DATA_MAX], event[END_DATA_MAX + 32];
    size_t n = sbxd_end_data(s->proc, data);
    if (s->frames) {
        sbxd_frames_add(b, SBX_FRAME_END, data, n);
    } else {
        int len = snprintf(event, sizeof event, "event: " SBX_EV_END "\ndata: %.*s\n\n", (int)n, data);
        add_text(b, event, (size_t)len);
    }
    memcpy(b->pos, "0\r\n\r\n", 5);
    b->pos += 5;
    s->end_sent = 1;
}

void sbxd_stream_add_keepalive(struct sbxd_sse *s, struct batch *b)
{
    if (s->frames) sbxd_frames_add(b, SBX_FRAME_KEEPALIVE, "", 0);
    else add_text(b, ": keep-alive\n\n", 14);
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

/* More to send now: the head once its hold is over, output, the end, a keep-alive. */
int sbxd_stream_has_news(const struct sbxd_sse *s)
{
    const struct sbxd_proc *p = s->proc;
    if (!sbxd_proc_started_yet(p)) return 0;
    return (s->head_due && s->head_released) || sbxd_proc_unread(p, &s->reader) ||
           sbxd_proc_finished_for(p, &s->reader) || s->keepalive_due;
}

/* What this stream waits for from the watch: writability while a write is wanted, the
 * client's half-close until it came. A stream joins the watch at its first wait, or once
 * it outlives its head's hold, so a short command's answer, written at once when it
 * exits, costs the watch nothing; a longer one is watched within SBXD_HEAD_HOLD_MS.
 * Returns -1 when the watch fails: without it the stream cannot go on. */
static int watch(struct sbxd_sse *s)
{
    struct sbxd_conn *c = lws_wsi_user(s->wsi);
    unsigned want = (s->write_wanted ? SBXD_WATCH_OUT : 0u) | (s->half_closed ? 0u : SBXD_WATCH_HALF_CLOSE);
    if (c->watched && want == c->watching) return 0;
    if (c->watched ? sbxd_connwatch_modify(s->srv, s->wsi, want) : sbxd_connwatch_add(s->srv, s->wsi, want))
        return -1;
    c->watched = 1;
    c->watching = want;
    return 0;
}

/* The response is over and all of it was sent: the stream leaves the watch, the
 * transaction completes, which frees c and p (DROP_PROTOCOL detaches p), and lws reads
 * the connection again: pipelined requests first, parsed afresh. Returns -1 when the
 * connection must close instead, 1 when it goes on. */
int sbxd_stream_end_response(struct sbxd_sse *s)
{
    struct lws *wsi = s->wsi;
    struct sbxd_conn *c = lws_wsi_user(wsi);
    if (c->watched) sbxd_connwatch_remove(s->srv, wsi);
    c->watched = 0;
    if (lws_http_transaction_completed(wsi)) return -1;
    lws_rx_flow_control(wsi, 1);
    return 1;
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

/* Asks for one write once the socket can take it (a repeated ask before it is a no-op). */
int sbxd_stream_want_write(struct sbxd_sse *s)
{
    if (s->write_wanted) return 0;
    s->write_wanted = 1;
    return watch(s);
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
    if (s->head_released && !s->proc->exited && !c->watched && watch(s)) {
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
    return watch(s); /* no more writability asked for, unless a write is wanted */
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
    return s->write_wanted ? watch(s) : sbxd_stream_want_write(s);
}
