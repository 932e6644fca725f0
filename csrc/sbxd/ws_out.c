/* What a session sends, one message per WRITEABLE (lws allows one lws_write there): an
 * error status then the close it announces; or the start status, the output from the
 * session's cursor in the log, the end status, then a close 1000. Output leaves the log
 * only as fast as the socket takes it: lws calls WRITEABLE again only once its last
 * write is out, and the process stops reading its pipes while the session lags
 * (proc.h), so nothing grows without bound. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "protocol.h"
#include "ws.h"

/* The most output bytes one message carries: a write the socket does not take whole is
 * kept by lws, so a smaller message keeps less. */
#define WS_OUTPUT_CHUNK 65536u

_Static_assert(SBXD_STDOUT == SBX_WS_STDOUT && SBXD_STDERR == SBX_WS_STDERR, "log channels are wire channels");
_Static_assert(WS_OUTPUT_CHUNK <= SBX_WS_PAYLOAD_MAX, "an output message fits the bound");

/* The message under construction: LWS_PRE bytes for lws' header, then channel and payload. */
static unsigned char out_buf[LWS_PRE + 1 + WS_OUTPUT_CHUNK];

static int send_message(struct sbxd_ws *s, int channel, const void *payload, size_t len)
{
    unsigned char *m = out_buf + LWS_PRE;
    m[0] = (unsigned char)channel;
    memcpy(m + 1, payload, len);
    return lws_write(s->wsi, m, len + 1, LWS_WRITE_BINARY) < (int)(len + 1) ? -1 : 0;
}

static int send_status(struct sbxd_ws *s, const char *json, size_t len)
{
    return send_message(s, SBX_WS_STATUS, json, len);
}

static int send_start(struct sbxd_ws *s)
{
    const struct sbxd_proc *p = s->proc;
    const struct sbxd_writer *w = sbxd_ws_writer(s);
    char json[256], stdin_part[48] = "";
    if (w) {
        snprintf(stdin_part, sizeof stdin_part, ",\"stdin\":%" PRIu64, w->received);
        s->stdin_acked = w->received;
    }
    int n = snprintf(json, sizeof json,
                     "{\"type\":\"start\",\"pid\":%d,\"serial\":%" PRIu64 ",\"from\":%" PRIu64 ",\"keepalive\":%g%s}",
                     (int)p->pid, p->serial, s->reader.cur.pos, s->srv->keepalive, stdin_part);
    if (n < 0 || (size_t)n >= sizeof json) return -1;
    s->start_due = 0;
    sbxd_proc_start_sent(s->proc);
    sbxd_ws_update_rx(s); /* the session's input goes to a running process from now on */
    return send_status(s, json, (size_t)n);
}

/* The next bytes at the session's cursor, of one channel. */
static int send_output(struct sbxd_ws *s)
{
    struct sbxd_proc *p = s->proc;
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n = sbxd_outlog_read(&p->log, &s->reader.cur, WS_OUTPUT_CHUNK, &ch, &bytes);
    if (send_message(s, (int)ch, bytes, n)) return -1;
    sbxd_outlog_advance(&s->reader.cur, n);
    sbxd_proc_drained(p);
    return 0;
}

/* How much of the writer's stdin came in: the client lets go of what it kept of it. */
static int send_stdin_ack(struct sbxd_ws *s)
{
    const struct sbxd_writer *w = sbxd_ws_writer(s);
    s->stdin_ack_due = 0;
    if (!w) return 0;
    char json[64];
    int n = snprintf(json, sizeof json, "{\"type\":\"stdin\",\"received\":%" PRIu64 "}", w->received);
    s->stdin_acked = w->received;
    return send_status(s, json, (size_t)n);
}

/* The end, then the close that follows it. */
static int send_end(struct sbxd_ws *s)
{
    char data[SBXD_END_DATA_MAX], json[SBXD_END_DATA_MAX + 32];
    size_t n = sbxd_end_data(s->proc, data);
    if (n < 2) return -1;
    int len = snprintf(json, sizeof json, "{\"type\":\"end\",%.*s", (int)n - 1, data + 1);
    if (len < 0 || (size_t)len >= sizeof json) return -1;
    s->end_sent = 1;
    sbxd_ws_close(s, SBX_WS_NORMAL, "");
    return send_status(s, json, (size_t)len);
}

static int send_error(struct sbxd_ws *s)
{
    char *json = s->error;
    s->error = NULL;
    int rc = send_status(s, json, strlen(json));
    free(json);
    return rc;
}

/* The close: lws sends the frame with this code and reason, then waits for the client's
 * answering close (or its timeout). It is begun from the session's timer (ws_session.c),
 * not by this callback returning -1: Debian's build of lws 4.1 closes a connection whose
 * callback failed a second time at once, which drops the frame unsent. */
static int send_close(struct sbxd_ws *s)
{
    lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)s->close_reason,
                     strlen(s->close_reason));
    s->close_sent = 1;
    sbxd_ws_update_rx(s); /* to read the client's answer */
    lws_set_timer_usecs(s->wsi, 1);
    return 0;
}

int sbxd_ws_writable(struct sbxd_ws *s)
{
    int rc;
    if (s->close_sent) return 0;
    if (s->error) rc = send_error(s);
    else if (s->close_code) return send_close(s);
    else if (!sbxd_ws_has_news(s)) return 0;
    else if (s->start_due) rc = send_start(s);
    else if (s->stdin_ack_due) rc = send_stdin_ack(s);
    else if (sbxd_proc_unread(s->proc, &s->reader)) rc = send_output(s);
    else rc = send_end(s);
    if (rc) return -1;
    sbxd_ws_want_write(s);
    return 0;
}
