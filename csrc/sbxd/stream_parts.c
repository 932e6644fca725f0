/* The parts of a process's stream that both its formats write, each as an SSE event or
 * as a frame: the response head with the start, the end with the response's last chunk,
 * a keep-alive; whether anything is due; the stream's watch on its connection, and the
 * response's end. sse_out.c runs the stream and writes SSE output, frames_out.c writes
 * frames output; both call these, and these call neither. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "connwatch.h"
#include "protocol.h"
#include "stream.h"

#define FRAME_HEAD 5u                  /* type and length */

/* A chunk's size line and a frame's head, for a payload of `len` bytes. */
void sbxd_frame_head(struct batch *b, unsigned type, size_t len)
{
    b->pos += sprintf((char *)b->pos, "%zx\r\n", FRAME_HEAD + len);
    *b->pos++ = (unsigned char)type;
    b->pos = stream_put_be(b->pos, len, 4);
}

void sbxd_frames_add(struct batch *b, unsigned type, const char *payload, size_t len)
{
    sbxd_frame_head(b, type, len);
    memcpy(b->pos, payload, len);
    memcpy(b->pos + len, "\r\n", 2);
    b->pos += len + 2;
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
int sbxd_stream_watch(struct sbxd_sse *s)
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

/* Asks for one write once the socket can take it (a repeated ask before it is a no-op). */
int sbxd_stream_want_write(struct sbxd_sse *s)
{
    if (s->write_wanted) return 0;
    s->write_wanted = 1;
    return sbxd_stream_watch(s);
}
