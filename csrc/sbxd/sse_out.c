/* The SSE side of a process: start, output chunks as base64 with their offsets, keep-
 * alive comments, end. Each event is one HTTP chunk; one write carries as many as fit,
 * so a short command's whole answer (head, start, output, end) is one write and wakes
 * the client once. Writes happen in WRITEABLE callbacks, except the last ones of a
 * command that has exited with its pipes at EOF (see sbxd_sse_news). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "base64.h"
#include "http.h"

#define RAW_CHUNK 49152u                 /* base64 of it is 64 KiB */
#define CHUNK_FRAME 16u                  /* a chunk's size line and closing CRLF, at most */
#define BATCH_ROOM SBXD_WRITE_MAX        /* see http.h: output never takes the end's room */

/* What one write sends, built in place after lws's headroom. */
struct batch {
    unsigned char *start, *pos, *end;
    int headers;                         /* it begins with the response head */
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
    b->headers = 1;
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

/* Writes what is due in one write. Returns -1 when the connection must close. After the
 * end event the transaction completes, which may free p. */
static int write_batch(struct lws *wsi, struct sbxd_proc *p)
{
    static unsigned char buf[LWS_PRE + BATCH_ROOM]; /* lws copies what it cannot send at once */
    struct batch b = {buf + LWS_PRE, buf + LWS_PRE, buf + LWS_PRE + BATCH_ROOM, 0};
    if (fill_batch(wsi, p, &b)) return -1;
    size_t n = (size_t)(b.pos - b.start);
    if (n == 0) return 0;
    if (lws_write(wsi, b.start, n, b.headers ? LWS_WRITE_HTTP_HEADERS : LWS_WRITE_HTTP) < (int)n) return -1;
    p->wrote_since_tick = 1;
    if (p->end_sent) return lws_http_transaction_completed(wsi) ? -1 : 0;
    if (has_news(p)) sbxd_sse_want_write(p);
    return 0;
}

/* The head waits for the first thing to go with it (output or the end) or for its hold
 * to pass: a short command's answer is then one write, one wakeup of the client. */
int sbxd_sse_begin(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    c->proc = p;
    p->reader = wsi;
    p->head_due = 1;
    if (has_news(p)) sbxd_sse_want_write(p);
    return 0;
}

void sbxd_sse_want_write(struct sbxd_proc *p)
{
    /* Every request re-arms lws's watcher (two epoll_ctl calls): one until it is served. */
    if (p->write_wanted) return;
    p->write_wanted = 1;
    lws_callback_on_writable(p->reader);
}

void sbxd_sse_news(struct sbxd_proc *p)
{
    if (!has_news(p)) return;
    /* Once the command has exited and its pipes are at EOF, everything it will ever say
     * is here: it goes out now rather than a loop turn later, unless an earlier write is
     * still queued in lws (then order requires waiting for WRITEABLE). */
    if (p->exited && !p->out && !p->err && !lws_partial_buffered(p->reader)) {
        struct lws *wsi = p->reader;
        /* A connection to close (not kept alive, or failed) closes now, as it would when
         * a WRITEABLE callback says so: an asynchronous kill waits for lws's next timeout
         * sweep, up to a second, and meanwhile lws would read the client's next request
         * on a connection whose transaction ended without being reset. */
        if (write_batch(wsi, p) < 0) lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        return;
    }
    sbxd_sse_want_write(p);
}

int sbxd_sse_writeable(struct lws *wsi, struct sbxd_proc *p)
{
    p->write_wanted = 0;
    return write_batch(wsi, p);
}
