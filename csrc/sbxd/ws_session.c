/* The sbx.v1 protocol's lws callback and a connection's session: it is made when the
 * WebSocket is established and freed when it closes; in between it is the reader of its
 * process (proc.h). A session that goes without having sent the end is a reader gone:
 * its process waits --resume-grace for another, as for a cut SSE stream. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "protocol.h"
#include "ws.h"

static struct sbxd_ws *session_of(struct sbxd_reader *r)
{
    return (struct sbxd_ws *)((char *)r - offsetof(struct sbxd_ws, reader));
}

static void on_news(struct sbxd_reader *r)
{
    sbxd_ws_want_write(session_of(r));
}

/* At shutdown: the process is freed before lws closes the connection. */
static void on_gone(struct sbxd_reader *r)
{
    struct sbxd_ws *s = session_of(r);
    s->proc = NULL;
    sbxd_ws_close(s, SBX_WS_GOING_AWAY, "sbxd is shutting down");
}

/* The command did not start: the session says why and closes. It was the process's only
 * reader; its detach frees the process. */
static void on_start_failed(struct sbxd_reader *r, const struct sbxd_err *err)
{
    struct sbxd_ws *s = session_of(r);
    struct sbxd_proc *p = s->proc;
    s->proc = NULL;
    sbxd_proc_detach(p, r);
    sbxd_ws_fail(s, err);
}

static const struct sbxd_reader_ops WS_READER = {on_news, on_news, on_gone, on_start_failed};

/* The request was checked before the upgrade (ws_upgrade.c) and nothing ran since: its
 * target is found again, as it was then. */
static int establish(struct lws *wsi, struct sbxd_ws_pss *pss)
{
    struct sbxd_ws *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->reader.ops = &WS_READER;
    s->srv = lws_context_user(lws_get_context(wsi));
    s->wsi = wsi;
    sbx_list_init(&s->stdin_ops);
    pss->s = s;
    struct sbxd_ws_target t;
    struct sbxd_err err;
    if (sbxd_ws_target(wsi, s->srv, &t, &err) != 0) {
        sbxd_ws_fail(s, &err);
        return 0;
    }
    memcpy(s->writer, t.writer, sizeof s->writer);
    if (t.proc) {
        sbxd_ws_attach(s, t.proc, t.offset);
    } else {
        s->awaiting_start = 1;
        snprintf(s->box_id, sizeof s->box_id, "%s", t.box->id);
    }
    return 0;
}

static void session_free(struct sbxd_ws *s)
{
    if (s->proc) {
        sbxd_writers_disown(s->proc->writers, s);
        sbxd_proc_detach(s->proc, &s->reader);
    }
    sbxd_ws_forget_stdin(s);
    free(s->msg);
    free(s->error);
    free(s);
}

/* The timer: the close begins (lws sends its frame: ws_out.c); or, while reads are
 * paused, each keep-alive interval counts as an answer from the client. */
static int on_timer(struct sbxd_ws *s)
{
    if (s->close_sent) return -1;
    if (!s->rx_paused || s->close_code) return 0;
    lws_validity_confirmed(s->wsi);
    lws_set_timer_usecs(s->wsi, sbxd_ws_keepalive_us(s));
    return 0;
}

/* The client closes first: lws answers, and nothing more is sent. */
static int peer_closed(struct sbxd_ws *s)
{
    s->close_code = SBX_WS_NORMAL;
    s->close_sent = 1;
    return 0;
}

int sbxd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct sbxd_ws_pss *pss = user;
    struct sbxd_ws *s = pss ? pss->s : NULL;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return pss ? establish(wsi, pss) : -1;
    case LWS_CALLBACK_RECEIVE:
        if (s) sbxd_ws_receive(s, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s ? sbxd_ws_writable(s) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return s ? peer_closed(s) : 0;
    case LWS_CALLBACK_TIMER:
        return s ? on_timer(s) : 0;
    case LWS_CALLBACK_CLOSED:
        if (s) session_free(s);
        if (pss) pss->s = NULL;
        return 0;
    default:
        return 0;
    }
}
