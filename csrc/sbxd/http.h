/* sbxd's HTTP front: the lws protocol callback, per-connection state, replies. */
#ifndef SBXD_HTTP_H
#define SBXD_HTTP_H
#include <libwebsockets.h>
#include "proc.h"
#include "sbxd.h"

enum sbxd_method { SBXD_GET = 1, SBXD_POST, SBXD_DELETE, SBXD_PUT, SBXD_PATCH, SBXD_HEAD, SBXD_OTHER };

/* lws per-connection memory: no uv handles in here (lws frees it on its own schedule).
 * It lives for one request: lws frees it when the transaction completes. */
struct sbxd_sse;
struct sbxd_later;

struct sbxd_conn {
    enum sbxd_method method;
    const char *method_name;       /* as lws read it, upper case: "POST" */
    char path[128];
    int path_too_long, authorized, too_big;
    int refused;                   /* answered on its headers; its body stays unread */
    int body_started;              /* a body chunk has come */
    char *body;
    size_t body_len;
    struct sbxd_sse *stream;       /* set while this connection streams a process */
    struct sbxd_later *later;      /* set while its answer waits (later.h) */
    /* While lws leaves the connection to sbxd (connwatch.h): */
    int watched;                   /* in the watch's set */
    unsigned watching;             /* the SBXD_WATCH_ events asked for */
};

/* Request heads (docs/PROTOCOL.md, Limits). lws parses a head into a header table of
 * SBXD_HEAD_MAX bytes, and closes the connection without a status when it does not fit.
 * It keeps at most one byte more than SBXD_URI_MAX of a path or a query and than
 * SBXD_FIELD_MAX of a known header field, skipping the rest of that line: those are
 * answered (414, 431) however long they are. At most SBXD_HEAD_POOL connections hold a
 * table at once, each for at most lws's 10 s before its head is complete; the others
 * wait, unread, until one is free. */
#define SBXD_HEAD_MAX 16384
#define SBXD_URI_MAX 8192
#define SBXD_FIELD_MAX 8192
#define SBXD_HEAD_POOL 256
/* The longest API key; "Bearer KEY" is a known header field. */
#define SBXD_KEY_MAX 4096
_Static_assert(SBXD_KEY_MAX + 7 <= SBXD_FIELD_MAX, "a key of SBXD_KEY_MAX fits its field");

/* Room for the head and start event of an SSE stream, a whole output event (64 KiB of
 * base64 and its event lines), and the end, whose room output never takes, so once every
 * byte is out the end fits in the same write (sse_out.c's writes hold several such
 * events). It is also the protocol's tx_packet_size, for the answers lws writes (JSON):
 * lws would otherwise hand the socket 4 KiB a send and buffer the rest, one loop turn per
 * 4 KiB. */
#define SBXD_HEAD_ROOM 512u
#define SBXD_END_ROOM 256u
#define SBXD_WRITE_MAX (SBXD_HEAD_ROOM + 128u + 65536u + 128u + SBXD_END_ROOM)

extern const struct lws_protocols sbxd_protocols[];

/* Replies with a JSON document (stolen) and finishes the transaction. Returns the value
 * the lws callback must return. */
int sbxd_reply(struct lws *wsi, int status, json_t *doc);
int sbxd_reply_error(struct lws *wsi, const struct sbxd_err *err);
/* {"error": {"kind", "message"}}, the body of every refusal (a new reference). */
json_t *sbxd_error_doc(const struct sbxd_err *err);
/* Replies to a request refused on its headers whose body is still to come, with
 * "connection: close"; the transaction stays open until the connection closes. */
int sbxd_reply_refusal(struct lws *wsi, const struct sbxd_err *err);
/* The context's header table size, pool and per-token limits (limits.c). */
void sbxd_head_limits(struct lws_context_creation_info *info);
/* A path or query over SBXD_URI_MAX (414) or a header field over SBXD_FIELD_MAX (431):
 * -1 with err set; else 0. */
int sbxd_head_refused(struct lws *wsi, struct sbxd_err *err);
/* A request's framing (framing.c). Content-Length (present) that is not one number of
 * bytes (400), or over max_body (413): -1 with err set; else 0. */
int sbxd_body_length_refused(struct lws *wsi, size_t max_body, struct sbxd_err *err);
/* Whether the head has a Content-Length field (whatever its value). */
int sbxd_has_content_length(struct lws *wsi);
/* Whether the head has a Transfer-Encoding field, which sbxd decodes none of. */
int sbxd_has_transfer_coding(struct lws *wsi);
/* A Transfer-Encoding field: with a Content-Length as well, 400 (the two lengths a proxy
 * and sbxd could each take); alone, 411. -1 with err set; else 0. */
int sbxd_transfer_coding_refused(struct lws *wsi, struct sbxd_err *err);
/* "100 Continue" to a request whose head was accepted, if it asked for one. */
void sbxd_continue_if_expected(struct lws *wsi);
/* The answer to a CONNECT, which lws has made a raw connection: 405; returns -1 (close). */
int sbxd_refuse_tunnel(struct lws *wsi);
/* Routes a complete request. Returns the value the lws callback must return. */
int sbxd_route(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c);
/* The route of `path` takes its body as raw bytes (a process's stdin), not JSON. */
int sbxd_route_raw_body(const char *path);
/* Starts the response for a process, SSE or binary frames, and attaches the connection
 * as its reader, from `offset`. lws reads no more of the connection until the response is over, and sbxd
 * writes it itself; the request's header table and body are freed. -1 when it cannot:
 * the connection is to close, and p goes on as it would without this reader. */
int sbxd_sse_begin(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p, uint64_t offset, int frames);
/* A process's end, as its stream's end event carries it: {"exit_code", "signal",
 * "error"} (stream_parts.c). Its length; the reasons are sbxd's own short words, so it always
 * fits. */
#define SBXD_END_DATA_MAX 128u
size_t sbxd_end_data(const struct sbxd_proc *p, char out[SBXD_END_DATA_MAX]);
/* Whether the request's Accept asks for binary frames (attach.c). */
int sbxd_accepts_frames(struct lws *wsi);
struct sbxd_attach_req;
/* An attach's query (offset, serial, writer) and Last-Event-ID (attach.c); -1 with err
 * set. */
int sbxd_attach_query(struct lws *wsi, struct sbxd_attach_req *req, struct sbxd_err *err);
/* The process an attach is for, with its query in *req (the offset, a WebSocket's
 * writer) and a paused sandbox resumed; NULL with err set (404, 400) when there is none. */
struct sbxd_proc *sbxd_attach_find(struct lws *wsi, struct sbxd_sandbox *box, pid_t pid,
                                   struct sbxd_attach_req *req, struct sbxd_err *err);
/* The WebSocket routes (routes.c): /sandboxes/{id}/processes/ws (*pid 0) and
 * /sandboxes/{id}/processes/{pid}/ws. 1 with the id and pid set, else 0. */
int sbxd_route_ws(const char *path, char *id, size_t idlen, pid_t *pid);
/* Before lws upgrades a request (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, ws_upgrade.c): the
 * checks of every route, then the WebSocket's own. Returns what that callback returns: 0
 * to upgrade, 1 when refused with an answer written, -1 to hang up. */
int sbxd_ws_confirm_upgrade(struct lws *wsi, struct sbxd_server *srv, const char *upgrade);
/* The sbx.v1 protocol's lws callback (ws_session.c). */
int sbxd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
/* GET /sandboxes/{id}/processes/{pid}/events (attach.c). Returns the value the lws
 * callback must return. */
int sbxd_attach(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid);
/* The connection's transaction is over (the response ended, or the connection closed):
 * the stream detaches from its process and is freed. */
void sbxd_sse_close(struct sbxd_sse *s);
/* An event of the watch on a connection lws leaves to sbxd (SBXD_WATCH_ bits): server.c. */
void sbxd_conn_event(struct lws *wsi, unsigned events);
/* The stream's socket can take more. Returns -1 when the connection must close; after
 * the response ends, c and its process are gone. */
int sbxd_sse_writable(struct lws *wsi, struct sbxd_conn *c);
/* The stream's client shut down its sending side, or closed: a write tells which.
 * Returns -1 when the connection must close. */
int sbxd_sse_half_closed(struct lws *wsi, struct sbxd_conn *c);
/* Constant-time comparison of the request's bearer token with the key. */
int sbxd_authorized(struct lws *wsi, const char *key);

#endif
