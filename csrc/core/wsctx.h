/* The client's libwebsockets context: a client-only context (CONTEXT_PORT_NO_LISTEN) on
 * the client's own uv loop as a foreign loop, made when the first session needs it and
 * destroyed with the client. Never serviced with lws_service: the uv loop runs it.
 *
 * lws puts handles of its own on the loop (an idle handle, and a timer for its scheduled
 * work, which includes a periodic one every 30 s). They are unreferenced: they run while
 * the loop runs, but do not keep it alive; and lws' timer is stopped after a step that
 * ends with no connection left (lws arms it again after its next I/O), so an idle client still
 * tells its host that only new work can wake it (sbx.timeout() is nil). A session's
 * connection, watched by a referenced poll handle, keeps the loop alive while it lasts. */
#ifndef SBX_WSCTX_H
#define SBX_WSCTX_H
#include <uv.h>

struct lws_context;
struct lws_protocols;

struct sbx_wsctx {
    uv_loop_t *uv;
    int tls;                   /* its connections may use TLS (wss) */
    struct lws_context *lws;   /* NULL until first used */
    uv_timer_t **timers;       /* lws' own timers */
    size_t ntimers;
    size_t connections;        /* sessions' connections alive */
};

/* tls: a context for wss connections, which trusts the CA certificates of cafile.h
 * (loaded when the context is made). A plain one does not set up TLS at all. */
void sbx_wsctx_init(struct sbx_wsctx *W, uv_loop_t *uv, int tls);
/* The context, made on first use with `protocols` (whose first is the sessions'); NULL
 * when lws cannot be set up. */
struct lws_context *sbx_wsctx_get(struct sbx_wsctx *W, const struct lws_protocols *protocols);
/* A connection was made; one ended. */
void sbx_wsctx_connected(struct sbx_wsctx *W);
void sbx_wsctx_disconnected(struct sbx_wsctx *W);
/* After a step: with no connection left, lws' timers stop (lws' I/O restarts them). */
void sbx_wsctx_settle(struct sbx_wsctx *W);
/* Destroys the context, closing its connections (their callbacks find no session: the
 * sessions were destroyed first). Runs the loop until lws' handles are closed. */
void sbx_wsctx_destroy(struct sbx_wsctx *W);

#endif
