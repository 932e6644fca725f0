/* The SSE side of a process: start, output chunks as base64 with their offsets, keep-
 * alive comments, end. Each event is one HTTP chunk; one write carries as many as fit,
 * so a short command's whole answer (head, start, output, end) is one write and wakes
 * the client once. While the stream runs lws leaves the connection to sbxd
 * (connwatch.h): sbxd writes when the watch says the socket can take more, except the
 * last writes of a command that has exited with its pipes at EOF (see sbxd_sse_news). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "base64.h"
#include "http.h"
#include "connwatch.h"

#define RAW_CHUNK 49152u                 /* base64 of it is 64 KiB */
#define CHUNK_FRAME 16u                  /* a chunk's size line and closing CRLF, at most */
#define BATCH_ROOM SBXD_WRITE_MAX        /* see http.h: output never takes the end's room */

/* What one write sends, built in place after lws's headroom. */
struct batch {
    unsigned char *start, *pos, *end;
};

static size_t room(const struct batch *b)
{
    return (size_t)(b->end - b->pos);
}

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
static int add_head(struct lws *wsi, struct sbxd_proc *p, struct batch *b)
{
    unsigned char *pos = b->pos, *end = b->pos + SBXD_HEAD_ROOM;
    if (lws_add_http_header_status(wsi, HTTP_STATUS_OK, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/event-stream", 17, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-cache", 8, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                     (const unsigned char *)"chunked", 7, &pos, end) ||
        lws_finalize_http_header(wsi, &pos, end))
        return -1;
    b->pos = pos;
    char event[96]; /* keepalive: how long the client may hear nothing while sbxd lives */
    int n = snprintf(event, sizeof event, "event: start\ndata: {\"pid\":%d,\"keepalive\":%g}\n\n",
                     (int)p->pid, p->srv->keepalive);
    if (n < 0 || (size_t)n >= sizeof event) return -1;
    add_text(b, event, (size_t)n);
    p->head_due = 0;
    return 0;
}

/* Appends the next output event when it fits whole; 0 when it does not (or none is
 * left). The base64 is written straight into the batch. */
static int add_output(struct sbxd_proc *p, struct batch *b)
{
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n = sbxd_outlog_peek(&p->log, RAW_CHUNK, &ch, &bytes);
    if (n == 0) return 0;
    char head[64];
    int hl = snprintf(head, sizeof head, "event: %s\nid: %" PRIu64 "\ndata: ",
                      ch == SBXD_STDOUT ? "stdout" : "stderr", p->log.taken + n);
    size_t len = (size_t)hl + b64_encoded_len(n) + 2;
    if (room(b) < len + CHUNK_FRAME + SBXD_END_ROOM) return 0;
    b->pos += sprintf((char *)b->pos, "%zx\r\n", len);
    memcpy(b->pos, head, (size_t)hl);
    b->pos += hl;
    b->pos += b64_encode(bytes, n, (char *)b->pos);
    memcpy(b->pos, "\n\n\r\n", 4);
    b->pos += 4;
    sbxd_outlog_take(&p->log, n);
    sbxd_proc_drained(p);
    return 1;
}

#define END_EVENT_MAX 160u

/* The end event's text; the reasons are sbxd's own short words, so it always fits. */
static size_t format_end(const struct sbxd_proc *p, char out[END_EVENT_MAX])
{
    int st = p->status, n;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        const char *abbrev = sigabbrev_np(sig);
        char name[32];
        snprintf(name, sizeof name, "SIG%s", abbrev ? abbrev : "UNKNOWN");
        if (p->reason)
            n = snprintf(out, END_EVENT_MAX, "event: end\ndata: {\"exit_code\":%d,\"signal\":\"%s\",\"error\":\"%s\"}\n\n",
                         128 + sig, name, p->reason);
        else
            n = snprintf(out, END_EVENT_MAX, "event: end\ndata: {\"exit_code\":%d,\"signal\":\"%s\",\"error\":\"signal: %s\"}\n\n",
                         128 + sig, name, name);
    } else {
        n = snprintf(out, END_EVENT_MAX, "event: end\ndata: {\"exit_code\":%d,\"signal\":null,\"error\":null}\n\n",
                     WEXITSTATUS(st));
    }
    return n > 0 && (size_t)n < END_EVENT_MAX ? (size_t)n : 0;
}

/* The end event, then the terminating chunk: the response is over. */
static void add_end(struct sbxd_proc *p, struct batch *b)
{
    char event[END_EVENT_MAX];
    add_text(b, event, format_end(p, event));
    memcpy(b->pos, "0\r\n\r\n", 5);
    b->pos += 5;
    p->end_sent = 1;
}

/* Fills a batch with everything due that fits, in stream order. */
static int fill_batch(struct lws *wsi, struct sbxd_proc *p, struct batch *b)
{
    if (p->head_due && add_head(wsi, p, b)) return -1;
    while (p->log.pending && add_output(p, b)) {}
    if (sbxd_proc_finished(p)) add_end(p, b);
    else if (b->pos == b->start && p->keepalive_due) add_text(b, ": keep-alive\n\n", 14);
    p->keepalive_due = 0;
    return 0;
}

/* More to send now: the head once its hold is over, output, the end, a keep-alive. */
static int has_news(const struct sbxd_proc *p)
{
    return (p->head_due && p->head_released) || p->log.pending || sbxd_proc_finished(p) ||
           p->keepalive_due;
}

/* What this stream waits for from the watch: writability while a write is wanted, the
 * client's half-close until it came. A stream joins the watch at its first wait, or once
 * it outlives its head's hold, so a short command's answer, written at once when it
 * exits, costs the watch nothing; a longer one is watched within SBXD_HEAD_HOLD_MS.
 * Returns -1 when the watch fails: without it the stream cannot go on. */
static int watch(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    unsigned want = (p->write_wanted ? SBXD_WATCH_OUT : 0u) | (c->half_closed ? 0u : SBXD_WATCH_HALF_CLOSE);
    if (c->watched && want == c->watching) return 0;
    if (c->watched ? sbxd_connwatch_modify(p->srv, wsi, want) : sbxd_connwatch_add(p->srv, wsi, want))
        return -1;
    c->watched = 1;
    c->watching = want;
    return 0;
}

/* The response is over and all of it was sent: the stream leaves the watch, the
 * transaction completes, which frees c and p (DROP_PROTOCOL detaches p), and lws reads
 * the connection again: pipelined requests first, parsed afresh. Returns -1 when the
 * connection must close instead, 1 when it goes on. */
static int end_response(struct lws *wsi, struct sbxd_conn *c)
{
    if (c->watched) sbxd_connwatch_remove(c->proc->srv, wsi);
    c->watched = 0;
    if (lws_http_transaction_completed(wsi)) return -1;
    lws_rx_flow_control(wsi, 1);
    return 1;
}

/* Sends bytes on the stream's socket; what it does not take now is kept for when it
 * can. Returns -1 when the client is gone. */
static int send_or_keep(struct lws *wsi, struct sbxd_conn *c, const unsigned char *bytes, size_t len)
{
    ssize_t n = send(lws_get_socket_fd(wsi), bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    size_t sent = n < 0 ? 0 : (size_t)n;
    if (sent == len) return 0;
    unsigned char *rest = malloc(len - sent);
    if (!rest) return -1;
    memcpy(rest, bytes + sent, len - sent);
    c->unsent = rest;
    c->unsent_len = len - sent;
    return 0;
}

/* Sends the rest of the last write, if the socket takes it all. */
static int send_unsent(struct lws *wsi, struct sbxd_conn *c)
{
    unsigned char *rest = c->unsent;
    size_t len = c->unsent_len;
    c->unsent = NULL;
    c->unsent_len = 0;
    int rc = send_or_keep(wsi, c, rest, len);
    free(rest);
    return rc;
}

/* Asks for one write once the socket can take it (a repeated ask before it is a no-op). */
static int want_write(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    if (p->write_wanted) return 0;
    p->write_wanted = 1;
    return watch(wsi, c, p);
}

/* Writes what is due, in one write, once the socket took everything before it.
 * Returns -1 when the connection must close, 1 when the response ended (c and p are
 * gone), 0 while it goes on. */
static int write_batch(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    static unsigned char buf[BATCH_ROOM];
    if (c->unsent && send_unsent(wsi, c)) return -1;
    if (c->unsent) return want_write(wsi, c, p);
    if (p->end_sent) return end_response(wsi, c);
    struct batch b = {buf, buf, buf + BATCH_ROOM};
    if (fill_batch(wsi, p, &b)) return -1;
    size_t n = (size_t)(b.pos - b.start);
    if (n == 0) return 0;
    if (send_or_keep(wsi, c, b.start, n)) return -1;
    p->wrote_since_tick = 1;
    if (c->unsent) return want_write(wsi, c, p);
    if (p->end_sent) return end_response(wsi, c);
    return has_news(p) ? want_write(wsi, c, p) : 0;
}

/* The head waits for the first thing to go with it (output or the end) or for its hold
 * to pass: a short command's answer is then one write, one wakeup of the client.
 * lws stops reading the connection: input that came after the request (a pipelined
 * request, a stray CRLF) waits in lws, or in the socket, until the response is over;
 * lws would otherwise take it for more of the request being answered and dispatch that
 * request again. */
int sbxd_sse_begin(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    c->proc = p;
    p->reader = wsi;
    p->head_due = 1;
    lws_rx_flow_control(wsi, 0);
    lws_http_headers_detach(wsi);
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    return has_news(p) ? want_write(wsi, c, p) : 0;
}

/* The connection closes now, killing the command (on_closed detaches it); the close
 * waits for no timeout sweep of lws. */
static void close_stream(struct lws *wsi)
{
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

void sbxd_sse_news(struct sbxd_proc *p)
{
    struct lws *wsi = p->reader;
    struct sbxd_conn *c = lws_wsi_user(wsi);
    if (p->head_released && !p->exited && !c->watched && watch(wsi, c, p)) {
        close_stream(wsi);
        return;
    }
    if (!has_news(p)) return;
    /* Once the command has exited and its pipes are at EOF, everything it will ever say
     * is here: it goes out now rather than a loop turn later, unless an earlier write is
     * still waiting for the socket (order requires waiting with it). */
    if (p->exited && !p->out && !p->err && !c->unsent) {
        if (write_batch(wsi, c, p) < 0) close_stream(wsi);
        return;
    }
    if (want_write(wsi, c, p)) close_stream(wsi);
}

int sbxd_sse_writable(struct lws *wsi, struct sbxd_conn *c)
{
    struct sbxd_proc *p = c->proc;
    p->write_wanted = 0;
    int rc = write_batch(wsi, c, p);
    if (rc) return rc < 0 ? -1 : 0;
    return watch(wsi, c, p); /* no more writability asked for, unless a write is wanted */
}

/* A client that only shut down its sending side still reads the stream; one that closed
 * its socket answers the next write with a reset, which the watch reports as a hang-up.
 * So the next write comes now: a keep-alive comment, unless something else is due. */
int sbxd_sse_half_closed(struct lws *wsi, struct sbxd_conn *c)
{
    c->half_closed = 1;
    c->proc->keepalive_due = 1;
    return c->proc->write_wanted ? watch(wsi, c, c->proc) : want_write(wsi, c, c->proc);
}
