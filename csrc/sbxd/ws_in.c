/* What a session receives: messages, put together from their fragments (at most
 * SBX_WS_MSG_MAX bytes), classified (wschan.h), then taken by channel: stdin bytes into
 * the process's stdin, control (start, signal), resize, close-channel. Whatever breaks
 * the protocol closes the session with the code the protocol gives and a reason; sbxd
 * goes on serving everyone else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "protocol.h"
#include "request.h"
#include "ws.h"

/* ---- stdin: each write is done (or refused) once; the session may be gone by then */

struct ws_stdin_op {
    struct sbxd_waiter waiter;
    struct sbxd_ws *s;           /* NULL once the session has gone */
    struct sbx_list link;        /* in s->stdin_ops while s is set */
    size_t len;
};

static void on_stdin_done(struct sbxd_waiter *w, json_t *doc, const struct sbxd_err *err)
{
    (void)err; /* a process that closed its stdin or exited takes no more: that is its business */
    struct ws_stdin_op *op = (struct ws_stdin_op *)w;
    json_decref(doc);
    if (op->s) {
        sbx_list_remove(&op->link);
        op->s->stdin_pending -= op->len;
        sbxd_ws_update_rx(op->s);
    }
    free(op);
}

static struct ws_stdin_op *stdin_op(struct sbxd_ws *s, size_t len)
{
    struct ws_stdin_op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->waiter.done = on_stdin_done;
    op->s = s;
    op->len = len;
    return op;
}

static void stdin_queued(struct sbxd_ws *s, struct ws_stdin_op *op)
{
    sbx_list_push_back(&s->stdin_ops, &op->link);
    s->stdin_pending += op->len;
    sbxd_ws_update_rx(s);
}

/* Bytes for the process's stdin (or its pty), in the order they came. Refused when its
 * stdin is closed or the process has exited: there is nobody to read them. */
static void write_stdin(struct sbxd_ws *s, const char *bytes, size_t len)
{
    struct sbxd_err err;
    if (!s->proc || len == 0) return;
    struct ws_stdin_op *op = stdin_op(s, len);
    char *copy = op ? malloc(len) : NULL;
    if (!copy) {
        free(op);
        sbxd_fail(&err, 500, SBX_ERR_SANDBOX, "out of memory");
        sbxd_ws_fail(s, &err);
        return;
    }
    memcpy(copy, bytes, len);
    if (sbxd_stdin_write(&s->proc->in, copy, len, &op->waiter, &err) != 0) {
        free(copy);
        free(op);
        return;
    }
    stdin_queued(s, op);
}

/* close-channel 0: a pipe closes (after the writes before it); a terminal gets its EOF
 * character, as a user typing ^D, and stays open. */
static void close_stdin(struct sbxd_ws *s)
{
    struct sbxd_err err;
    if (!s->proc) return;
    if (s->proc->pty) {
        char eof = (char)sbxd_proc_eof_char(s->proc);
        write_stdin(s, &eof, 1);
        return;
    }
    struct ws_stdin_op *op = stdin_op(s, 0);
    if (op && sbxd_stdin_close(&s->proc->in, &op->waiter, &err) == SBXD_STDIN_CLOSE_WAITS) stdin_queued(s, op);
    else free(op);
}

void sbxd_ws_forget_stdin(struct sbxd_ws *s)
{
    while (!sbx_list_empty(&s->stdin_ops)) {
        struct ws_stdin_op *op = sbx_list_entry(s->stdin_ops.next, struct ws_stdin_op, link);
        sbx_list_remove(&op->link);
        op->s = NULL;
    }
    s->stdin_pending = 0;
}

/* ---- control */

static void refuse(struct sbxd_ws *s, const char *reason)
{
    sbxd_ws_close(s, SBX_WS_POLICY, reason);
}

static void refuse_err(struct sbxd_ws *s, const char *what, const struct sbxd_err *err)
{
    char reason[512]; /* the close cuts it to SBX_WS_REASON_MAX */
    snprintf(reason, sizeof reason, "%s: %s", what, err->message);
    refuse(s, reason);
}

/* What the POST start body allows and a session does not. */
static int session_start_refused(json_t *body, const struct sbxd_start_req *req, struct sbxd_err *err)
{
    if (req->background) return sbxd_fail(err, 400, SBX_ERR_INVALID, "'background' is not allowed in a session");
    if (json_object_get(body, "idle_timeout"))
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "'idle_timeout' is not allowed in a session: one waiting for input is not idle");
    return 0;
}

/* The process a session's start gets: a new one; or, for a start sent again after a cut
 * (the session's writer wrote to a process: it started it), that one, which the session
 * then reads from its first byte. While the init has not said whether that one started,
 * 503: the client sends the start again a moment later. NULL with err set. */
static struct sbxd_proc *session_process(struct sbxd_ws *s, struct sbxd_sandbox *box,
                                         const struct sbxd_start_req *req, struct sbxd_err *err)
{
    struct sbxd_proc *p = s->writer[0] ? sbxd_proc_find_writer(box, s->writer) : NULL;
    if (!p) return sbxd_proc_start(box, req, err);
    if (!sbxd_proc_start_pending(p)) return p;
    sbxd_fail(err, 503, SBX_ERR_SANDBOX, "the command of this session is still starting: send the start again");
    return NULL;
}

/* {"start": {...}}: the process starts, resuming a paused sandbox, and the session reads
 * it from its first byte. A refusal is an error status, then a close. */
static void start(struct sbxd_ws *s, json_t *body)
{
    struct sbxd_start_req req;
    struct sbxd_err err;
    s->awaiting_start = 0;
    if (sbxd_parse_start_object(body, &req, &err) != 0) {
        sbxd_ws_fail(s, &err);
        return;
    }
    struct sbxd_sandbox *box = sbxd_sandbox_find(s->srv, s->box_id);
    struct sbxd_proc *p = NULL;
    req.interactive = 1;
    if (session_start_refused(body, &req, &err) == 0) {
        if (!box) sbxd_fail(&err, 404, SBX_ERR_NOT_FOUND, "no sandbox '%.64s'", s->box_id);
        else if (sbxd_sandbox_resume(box, &err) == 0) p = session_process(s, box, &req, &err);
    }
    sbxd_start_req_free(&req);
    if (p) sbxd_ws_attach(s, p, 0);
    else sbxd_ws_fail(s, &err);
}

/* {"signal": name or number}: to the process group, resuming a paused sandbox first. */
static void signal_process(struct sbxd_ws *s, const char *payload, size_t len)
{
    int sig;
    struct sbxd_err err;
    if (sbxd_parse_signal(payload, len, &sig, &err) != 0) {
        refuse_err(s, "bad signal", &err);
        return;
    }
    if (!s->proc) return;
    if (s->proc->box) sbxd_sandbox_resume(s->proc->box, &err);
    sbxd_proc_signal(s->proc, sig);
}

/* A JSON object as a control or resize message carries it; NULL after a refusal. */
static json_t *json_of(struct sbxd_ws *s, const char *payload, size_t len, const char *what)
{
    json_error_t je;
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
    char reason[512];
    if (root && json_is_object(root)) return root;
    if (root) snprintf(reason, sizeof reason, "%s: not a JSON object", what);
    else snprintf(reason, sizeof reason, "%s: malformed JSON: %s", what, sbxd_json_error_text(&je));
    json_decref(root);
    refuse(s, reason);
    return NULL;
}

/* Channel 3: a start first on the start route and only there, then signals. */
static void control(struct sbxd_ws *s, const char *payload, size_t len)
{
    json_t *root = json_of(s, payload, len, "control message");
    if (!root) return;
    const char *key = json_object_size(root) == 1 ? json_object_iter_key(json_object_iter(root)) : NULL;
    json_t *value = key ? json_object_get(root, key) : NULL;
    if (!key) refuse(s, "control message: exactly one key (start or signal)");
    else if (s->awaiting_start && strcmp(key, "start") != 0) refuse(s, "the first message must be the start");
    else if (!strcmp(key, "start") && !s->awaiting_start) refuse(s, "a start on a session that has its process");
    else if (!strcmp(key, "start")) start(s, value);
    else if (!strcmp(key, "signal")) signal_process(s, payload, len);
    else refuse(s, "unknown control message (start or signal)");
    json_decref(root);
}

/* Channel 4: {"cols", "rows"}; ignored without a pty. */
static void resize(struct sbxd_ws *s, const char *payload, size_t len)
{
    unsigned cols, rows;
    struct sbxd_err err;
    json_t *root = json_of(s, payload, len, "resize");
    if (!root) return;
    if (sbxd_parse_winsize(root, "resize", &cols, &rows, &err) != 0) refuse_err(s, "bad resize", &err);
    else if (s->proc) sbxd_proc_resize(s->proc, rows, cols);
    json_decref(root);
}

/* ---- messages */

/* A writer's stdin counts as it comes in (units: payload bytes, 1 for its EOF). 0 when
 * the session's connection no longer owns its writer: a newer one took over after a cut,
 * and the client sends this stdin again there, so it is dropped here. */
static int stdin_counted(struct sbxd_ws *s, size_t units)
{
    if (!s->writer[0]) return 1;
    struct sbxd_writer *w = sbxd_ws_writer(s);
    if (!w) return 0;
    w->received += units;
    if (!s->stdin_ack_due && w->received - s->stdin_acked >= SBXD_WS_STDIN_ACK_EVERY) {
        s->stdin_ack_due = 1;
        sbxd_ws_want_write(s);
    }
    return 1;
}

static void take_message(struct sbxd_ws *s, const void *data, size_t len)
{
    struct sbx_ws_msg m;
    if (sbx_ws_classify(&m, data, len, 0, SBX_WS_AT_SERVER) != 0) {
        sbxd_ws_close(s, m.close_code, m.reason);
        return;
    }
    if (s->awaiting_start && m.channel != SBX_WS_STATUS) {
        refuse(s, "the first message must be the start");
        return;
    }
    switch (m.channel) {
    case SBX_WS_STDIN:
        if (stdin_counted(s, m.len)) write_stdin(s, m.payload, m.len);
        break;
    case SBX_WS_STATUS: control(s, m.payload, m.len); break;
    case SBX_WS_RESIZE: resize(s, m.payload, m.len); break;
    default: /* SBX_WS_CLOSE */
        if (m.payload[0] == SBX_WS_STDIN && stdin_counted(s, 1)) close_stdin(s);
        break;
    }
}

/* A fragment goes after the ones before it: the message grows to at most its bound. */
static int collect(struct sbxd_ws *s, const void *in, size_t len)
{
    size_t need = s->msg_len + len;
    if (need > s->msg_cap) {
        size_t cap = s->msg_cap ? s->msg_cap : 65536;
        while (cap < need) cap *= 2;
        if (cap > SBX_WS_MSG_MAX) cap = SBX_WS_MSG_MAX;
        unsigned char *m = realloc(s->msg, cap);
        if (!m) return -1;
        s->msg = m;
        s->msg_cap = cap;
    }
    if (len) memcpy(s->msg + s->msg_len, in, len);
    s->msg_len = need;
    return 0;
}

void sbxd_ws_receive(struct sbxd_ws *s, const void *in, size_t len)
{
    struct lws *wsi = s->wsi;
    struct sbx_ws_msg m;
    lws_validity_confirmed(wsi); /* any message answers for the client, as a pong does */
    if (s->close_code) return;   /* closing: the rest is not read */
    if (lws_is_first_fragment(wsi)) s->msg_len = 0;
    if (!lws_frame_is_binary(wsi)) {
        sbx_ws_classify(&m, in, len, 1, SBX_WS_AT_SERVER);
        sbxd_ws_close(s, m.close_code, m.reason);
        return;
    }
    if (sbx_ws_too_big(s->msg_len + len + lws_remaining_packet_payload(wsi))) {
        sbxd_ws_close(s, SBX_WS_TOO_BIG, "message over 1 MiB");
        return;
    }
    int final = lws_is_final_fragment(wsi);
    if (final && s->msg_len == 0) {
        take_message(s, in, len);
        return;
    }
    if (collect(s, in, len) != 0) {
        sbxd_ws_close(s, SBX_WS_SERVER_ERROR, "out of memory");
        return;
    }
    if (!final) return;
    take_message(s, s->msg, s->msg_len);
    s->msg_len = 0;
}
