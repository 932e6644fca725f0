/* The lws protocol callback: checks a request's head (size, key), collects it (method,
 * path, bounded body) and hands it to the routes; and the events of the connections lws
 * leaves to sbxd (connwatch.h): streams and refused requests. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "connwatch.h"
#include "later.h"
#include "protocol.h"
#include "ws.h"

/* The request's method, as the routes know it and as the client wrote it. */
static enum sbxd_method method_of(struct lws *wsi, const char **name)
{
    static const struct {
        enum lws_token_indexes token;
        enum sbxd_method m;
        const char *name;
    } TOKENS[] = {
        {WSI_TOKEN_GET_URI, SBXD_GET, "GET"},          {WSI_TOKEN_POST_URI, SBXD_POST, "POST"},
        {WSI_TOKEN_DELETE_URI, SBXD_DELETE, "DELETE"}, {WSI_TOKEN_PUT_URI, SBXD_PUT, "PUT"},
        {WSI_TOKEN_PATCH_URI, SBXD_PATCH, "PATCH"},    {WSI_TOKEN_OPTIONS_URI, SBXD_OTHER, "OPTIONS"},
        {WSI_TOKEN_HEAD_URI, SBXD_HEAD, "HEAD"}};
    for (size_t i = 0; i < sizeof TOKENS / sizeof *TOKENS; i++)
        if (lws_hdr_total_length(wsi, TOKENS[i].token)) return *name = TOKENS[i].name, TOKENS[i].m;
    *name = "";
    return SBXD_OTHER;
}

static void reset_conn(struct sbxd_conn *c)
{
    free(c->body);
    memset(c, 0, sizeof *c);
}

/* lws reads a body after the head when there is a Content-Length above 0, and also,
 * taking it as 100 MiB long, after a POST, PUT or PATCH without one.
 * A head with a Transfer-Encoding is followed by a body of any method, of a length sbxd
 * cannot tell: it is refused, and none of it read. */
static int body_follows(struct lws *wsi, const struct sbxd_conn *c)
{
    char cl[32];
    if (sbxd_has_transfer_coding(wsi)) return 1;
    if (!sbxd_has_content_length(wsi))
        return c->method == SBXD_POST || c->method == SBXD_PUT || c->method == SBXD_PATCH;
    return lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
           strtoull(cl, NULL, 10) > 0;
}

/* Refuses a request on its headers, before any of its body is stored. Without a body
 * it is an ordinary answer. With one, the answer goes out at once, saying the
 * connection closes, and lws reads no more of it: what came with the head is dropped,
 * and the connection closes when the client closes its side (connwatch.h), or at
 * lws's body timeout. Closing at once, with the body unread, would reset the
 * connection, and a client still sending would see the reset rather than the answer. */
static int refuse(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c,
                  const struct sbxd_err *err)
{
    if (!body_follows(wsi, c)) return sbxd_reply_error(wsi, err);
    c->refused = 1;
    /* A write lws could not finish would wait for a POLLOUT it never serves here. */
    if (sbxd_reply_refusal(wsi, err) || lws_partial_buffered(wsi)) return -1;
    lws_rx_flow_control(wsi, 0);
    if (sbxd_connwatch_add(srv, wsi, SBXD_WATCH_HALF_CLOSE)) return -1;
    c->watched = 1;
    c->watching = SBXD_WATCH_HALF_CLOSE;
    return 0;
}

/* GET (or HEAD) /health is answered without the key: an orchestrator's probe has none
 * to send, and the answer tells nothing of any sandbox. */
static int is_health(const struct sbxd_conn *c, const char *path, size_t len)
{
    return (c->method == SBXD_GET || c->method == SBXD_HEAD) && len == 7 && memcmp(path, "/health", 7) == 0;
}

/* The head is complete: its size, its key and its body's length are checked before
 * anything else. */
static int on_request(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c,
                      const char *path, size_t len)
{
    reset_conn(c);
    c->method = method_of(wsi, &c->method_name);
    struct sbxd_err err;
    if (sbxd_head_refused(wsi, &err)) return refuse(wsi, srv, c, &err);
    if (!is_health(c, path, len) && !sbxd_authorized(wsi, srv->api_key)) {
        sbxd_fail(&err, 401, SBX_ERR_AUTH, "missing or wrong API key");
        return refuse(wsi, srv, c, &err);
    }
    if (sbxd_transfer_coding_refused(wsi, &err)) return refuse(wsi, srv, c, &err);
    if (body_follows(wsi, c) && !sbxd_has_content_length(wsi)) {
        sbxd_fail(&err, 411, SBX_ERR_INVALID, "a %s needs a Content-Length (0 for no body)",
                  c->method_name);
        return refuse(wsi, srv, c, &err);
    }
    if (sbxd_has_content_length(wsi) && sbxd_body_length_refused(wsi, srv->max_body, &err))
        return refuse(wsi, srv, c, &err);
    c->authorized = 1;
    if (len >= sizeof c->path) c->path_too_long = 1;
    else memcpy(c->path, path, len);
    /* A request with a body is answered once the body is in, so it never stays unread. */
    if (body_follows(wsi, c)) {
        sbxd_continue_if_expected(wsi);
        return 0;
    }
    return sbxd_route(wsi, srv, c);
}

/* lws 4.1 passes a request that it had kept in its buffer (one sent behind another
 * before that one's answer) its own head again as the start of its body, from where
 * the head began in that buffer, then keeps re-reading the buffer without end. Such a
 * first body chunk begins with the request's method and a space, or a part of that
 * when shorter (a head lws parses begins with its method: it closes the connection on
 * an empty line before one). No JSON body begins so. */
static int is_head_again(const struct sbxd_conn *c, const unsigned char *in, size_t len)
{
    size_t n = strlen(c->method_name);
    if (n == 0) return 0;
    for (size_t i = 0; i < len && i <= n; i++)
        if (toupper(in[i]) != (i < n ? c->method_name[i] : ' ')) return 0;
    return 1;
}

/* A raw body (a process's stdin) may begin with anything: it is the head again only when
 * it matches the head's request line as far as both go, "METHOD PATH" then a space or a
 * query (lws takes methods in upper case only). A body that is itself a beginning of
 * that line cannot be told from it, and is refused the same way (docs/PROTOCOL.md). */
static int is_raw_head_again(const struct sbxd_conn *c, const unsigned char *in, size_t len)
{
    char line[sizeof c->path + 16];
    int n = snprintf(line, sizeof line, "%s %s", c->method_name, c->path);
    if (n <= 0 || (size_t)n >= sizeof line) return 0;
    size_t same = len < (size_t)n ? len : (size_t)n;
    return memcmp(in, line, same) == 0 && (len == same || in[n] == ' ' || in[n] == '?');
}

/* Such a request is answered (unless it was already) and the connection closed, before
 * lws goes on reading its buffer. */
static int refuse_pipelined(struct lws *wsi, struct sbxd_conn *c)
{
    if (!c->refused) {
        struct sbxd_err err;
        sbxd_fail(&err, 400, SBX_ERR_INVALID,
                  "a request with a body was sent before the answer to the one before it");
        sbxd_reply_refusal(wsi, &err);
    }
    return -1;
}

static int on_body(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c,
                   const void *in, size_t len)
{
    if (!c->body_started && len) {
        c->body_started = 1;
        int raw = c->authorized && sbxd_route_raw_body(c->path);
        if (raw ? is_raw_head_again(c, in, len) : is_head_again(c, in, len)) return refuse_pipelined(wsi, c);
    }
    if (!c->authorized) return 0; /* refused: what came with the head is dropped */
    if (c->too_big || c->body_len + len > srv->max_body) {
        c->too_big = 1; /* keep reading and dropping: the answer comes at completion */
        free(c->body);
        c->body = NULL;
        c->body_len = 0;
        return 0;
    }
    char *b = realloc(c->body, c->body_len + len + 1);
    if (!b) return -1;
    memcpy(b + c->body_len, in, len);
    c->body = b;
    c->body_len += len;
    b[c->body_len] = '\0';
    return 0;
}

static int on_body_complete(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c)
{
    if (c->refused) return -1; /* answered already; the connection closes, nothing unread */
    return sbxd_route(wsi, srv, c);
}

/* A refused request's client has its answer once it closes its side, and a stream's
 * client that hung up is gone: lws closes the connection now (on_closed ends the watch
 * and kills the command). A client whose answer waits is gone when it hung up (its
 * answer then goes nowhere). */
void sbxd_conn_event(struct lws *wsi, unsigned events)
{
    struct sbxd_conn *c = lws_wsi_user(wsi);
    int rc = -1;
    if (c->stream && !(events & SBXD_WATCH_GONE)) {
        rc = events & SBXD_WATCH_HALF_CLOSE ? sbxd_sse_half_closed(wsi, c) : 0;
        if (rc == 0 && (events & SBXD_WATCH_OUT)) rc = sbxd_sse_writable(wsi, c);
    } else if (c->later) {
        rc = sbxd_later_event(wsi, c, events);
    }
    if (rc < 0) lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static int on_closed(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c)
{
    if (c->watched) sbxd_connwatch_remove(srv, wsi);
    /* At shutdown every process is already gone (sbxd_proc_free_all) when lws closes
     * the connections that streamed them: their streams forgot them then. */
    if (c->stream) sbxd_sse_close(c->stream);
    c->stream = NULL;
    if (c->later) sbxd_later_forget(c->later);
    c->later = NULL;
    reset_conn(c);
    return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    struct sbxd_conn *c = user;
    struct sbxd_server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(wsi, srv, c, in, strlen(in));
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(wsi, srv, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return on_body_complete(wsi, srv, c);
    /* A request to upgrade comes here instead of LWS_CALLBACK_HTTP (c may be NULL). */
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return sbxd_ws_confirm_upgrade(wsi, srv, in);
    /* lws frees the per-connection memory after either: at the end of a kept-alive
     * transaction (DROP_PROTOCOL), or when the connection closes. */
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        return c ? on_closed(wsi, srv, c) : 0;
    case LWS_CALLBACK_RAW_ADOPT:
        return sbxd_refuse_tunnel(wsi);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* HTTP first: lws binds every request to it. The WebSocket sessions' (ws.h) takes
 * messages in pieces of up to 64 KiB. */
const struct lws_protocols sbxd_protocols[] = {
    {"http", http_callback, sizeof(struct sbxd_conn), 0, 0, NULL, SBXD_WRITE_MAX},
    {SBX_WS_PROTOCOL, sbxd_ws_callback, sizeof(struct sbxd_ws_pss), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
