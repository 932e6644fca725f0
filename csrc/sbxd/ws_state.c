/* A session's state and what changes it, for the ws_*.c files that take its messages
 * (ws_in.c), send (ws_out.c) and run it (ws_session.c): what is due to be sent, and the
 * ask to send it; whether the connection is read; a close, an error status; the process
 * it reads, and the writer it owns. These call none of those files. */
#include "protocol.h"
#include "jbytes.h"
#include "ws.h"

int sbxd_ws_has_news(const struct sbxd_ws *s)
{
    const struct sbxd_proc *p = s->proc;
    if (s->close_sent) return 0;
    if (s->error || s->close_code) return 1;
    if (!p || s->end_sent) return 0;
    if (s->start_due) return sbxd_proc_started_yet(p);
    return s->stdin_ack_due || sbxd_proc_unread(p, &s->reader) > 0 || sbxd_proc_finished_for(p, &s->reader);
}

void sbxd_ws_want_write(struct sbxd_ws *s)
{
    if (sbxd_ws_has_news(s)) lws_callback_on_writable(s->wsi);
}

lws_usec_t sbxd_ws_keepalive_us(const struct sbxd_ws *s)
{
    return (lws_usec_t)(s->srv->keepalive * LWS_US_PER_SEC);
}

void sbxd_ws_update_rx(struct sbxd_ws *s)
{
    int pause = s->close_code ? !s->close_sent
                              : (s->proc && s->start_due) || s->stdin_pending > SBX_WS_STDIN_PENDING_MAX;
    if (pause == s->rx_paused) return;
    s->rx_paused = pause;
    lws_rx_flow_control(s->wsi, !pause);
    /* While sbxd does not read, the client's pongs wait unread: its silence is sbxd's
     * doing, not a cut. The timer vouches for it (LWS_CALLBACK_TIMER). */
    if (!s->close_code) lws_set_timer_usecs(s->wsi, pause ? sbxd_ws_keepalive_us(s) : LWS_SET_TIMER_USEC_CANCEL);
}

void sbxd_ws_close(struct sbxd_ws *s, int code, const char *reason)
{
    if (s->close_code) return; /* the first close stands */
    s->close_code = code;
    /* a close's reason is UTF-8 text (RFC 6455); a message may quote a path of bytes */
    json_t *text = sbxd_text_json(reason);
    sbx_ws_set_reason(s->close_reason, text ? json_string_value(text) : "");
    json_decref(text);
    sbxd_ws_update_rx(s);
    lws_callback_on_writable(s->wsi);
}

void sbxd_ws_fail(struct sbxd_ws *s, const struct sbxd_err *err)
{
    /* (a message may quote a path of bytes that are not UTF-8: shown as '?') */
    json_t *doc = json_pack("{s:s, s:{s:s, s:o, s:i}}", "type", "error", "error", "kind", err->kind, "message",
                            sbxd_text_json(err->message), "status", err->status);
    if (!s->error && !s->close_code) s->error = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    sbxd_ws_close(s, err->status >= 500 ? SBX_WS_SERVER_ERROR : SBX_WS_POLICY, err->message);
}

void sbxd_ws_attach(struct sbxd_ws *s, struct sbxd_proc *p, uint64_t offset)
{
    s->proc = p;
    s->start_due = 1;
    sbxd_proc_attach(p, &s->reader, offset);
    /* from now on stdin of this writer counts on this connection only; the start status
     * says how much came on the ones before */
    if (s->writer[0] && !sbxd_writer_own(&p->writers, s->writer, s)) {
        struct sbxd_err err;
        sbxd_fail(&err, 500, SBX_ERR_SANDBOX, "out of memory");
        sbxd_ws_fail(s, &err);
    }
    sbxd_ws_update_rx(s);
    sbxd_ws_want_write(s);
}

struct sbxd_writer *sbxd_ws_writer(struct sbxd_ws *s)
{
    return s->writer[0] && s->proc ? sbxd_writer_owned(s->proc->writers, s->writer, s) : NULL;
}
