/* The SSE side of a process: start, output chunks as base64 with their offsets, keep-
 * alive comments, end. One lws_write per WRITEABLE callback, as lws requires. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "base64.h"
#include "http.h"

#define RAW_CHUNK 49152u                  /* base64 of it is 64 KiB */
#define EVENT_MAX (LWS_PRE + 65536u + 160u)

/* The stream is chunked, not close-delimited, so the connection outlives the command
 * and the client's next request reuses it. The start event goes out in the same write as
 * the headers: one wakeup of the client instead of two. */
int sbxd_sse_begin(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *pos = start, *end = start + 512;
    if (lws_add_http_header_status(wsi, HTTP_STATUS_OK, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/event-stream", 17, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-cache", 8, &pos, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                     (const unsigned char *)"chunked", 7, &pos, end) ||
        lws_finalize_http_header(wsi, &pos, end))
        return -1;
    char event[96]; /* keepalive: how long the client may hear nothing while sbxd lives */
    int n = snprintf(event, sizeof event, "event: start\ndata: {\"pid\":%d,\"keepalive\":%g}\n\n",
                     (int)p->pid, p->srv->keepalive);
    pos += snprintf((char *)pos, (size_t)(end - pos), "%x\r\n%s\r\n", n, event);
    if (lws_write(wsi, start, (size_t)(pos - start), LWS_WRITE_HTTP_HEADERS) < (int)(pos - start)) return -1;
    c->proc = p;
    p->reader = wsi;
    if (p->log.pending || sbxd_proc_finished(p)) lws_callback_on_writable(wsi);
    return 0;
}

static size_t format_output(struct sbxd_proc *p, char *out)
{
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n = sbxd_outlog_peek(&p->log, RAW_CHUNK, &ch, &bytes);
    uint64_t id = p->log.taken + n;
    int head = sprintf(out, "event: %s\nid: %" PRIu64 "\ndata: ",
                       ch == SBXD_STDOUT ? "stdout" : "stderr", id);
    size_t len = (size_t)head + b64_encode(bytes, n, out + head);
    memcpy(out + len, "\n\n", 2);
    sbxd_outlog_take(&p->log, n);
    sbxd_proc_drained(p);
    return len + 2;
}

static size_t format_end(struct sbxd_proc *p, char *out)
{
    int st = p->status;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        const char *abbrev = sigabbrev_np(sig);
        char name[32];
        snprintf(name, sizeof name, "SIG%s", abbrev ? abbrev : "UNKNOWN");
        if (p->reason)
            return (size_t)sprintf(out, "event: end\ndata: {\"exit_code\":%d,\"signal\":\"%s\",\"error\":\"%s\"}\n\n",
                                   128 + sig, name, p->reason);
        return (size_t)sprintf(out, "event: end\ndata: {\"exit_code\":%d,\"signal\":\"%s\",\"error\":\"signal: %s\"}\n\n",
                               128 + sig, name, name);
    }
    return (size_t)sprintf(out, "event: end\ndata: {\"exit_code\":%d,\"signal\":null,\"error\":null}\n\n",
                           WEXITSTATUS(st));
}

/* The next event to send, formatted into out; 0 when there is nothing to send now. */
static size_t next_event(struct sbxd_proc *p, char *out)
{
    if (p->log.pending) return format_output(p, out);
    if (sbxd_proc_finished(p)) {
        p->end_sent = 1;
        return format_end(p, out);
    }
    if (p->keepalive_due) {
        p->keepalive_due = 0;
        return (size_t)sprintf(out, ": keep-alive\n\n");
    }
    return 0;
}

/* Writes one event as an HTTP chunk; after the end event, the terminating chunk. The
 * chunk-size line is written into the headroom in front of the event. */
int sbxd_sse_writeable(struct lws *wsi, struct sbxd_proc *p)
{
    static unsigned char buf[EVENT_MAX + 32]; /* lws copies what it cannot send at once */
    char *out = (char *)buf + LWS_PRE + 16;
    size_t n = next_event(p, out);
    if (n == 0) return 0;
    char size_line[16];
    int sl = snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    char *chunk = out - sl;
    memcpy(chunk, size_line, (size_t)sl);
    memcpy(out + n, "\r\n", 2);
    size_t total = (size_t)sl + n + 2;
    if (p->end_sent) {
        memcpy(out + n + 2, "0\r\n\r\n", 5);
        total += 5;
    }
    if (lws_write(wsi, (unsigned char *)chunk, total, LWS_WRITE_HTTP) < (int)total) return -1;
    p->wrote_since_tick = 1;
    if (p->end_sent) return lws_http_transaction_completed(wsi) ? -1 : 0;
    if (p->log.pending || sbxd_proc_finished(p)) lws_callback_on_writable(wsi);
    return 0;
}
