/* sbxd's HTTP front: the lws protocol callback, per-connection state, replies. */
#ifndef SBXD_HTTP_H
#define SBXD_HTTP_H
#include <libwebsockets.h>
#include "proc.h"
#include "sbxd.h"

enum sbxd_method { SBXD_GET = 1, SBXD_POST, SBXD_DELETE, SBXD_PUT, SBXD_PATCH, SBXD_OTHER };

/* lws per-connection memory: no uv handles in here (lws frees it on its own schedule). */
struct sbxd_conn {
    enum sbxd_method method;
    char path[128];
    int path_too_long, authorized, too_big;
    char *body;
    size_t body_len;
    struct sbxd_proc *proc;        /* set while this connection streams a process */
};

/* The most one write of an SSE stream carries: the head and start event, a whole output
 * event (64 KiB of base64 and its event lines), and the end, whose room output never
 * takes, so once every byte is out the end fits in the same write. It is also the
 * protocol's tx_packet_size: lws would otherwise hand the socket 4 KiB a send and
 * buffer the rest, one loop turn per 4 KiB. */
#define SBXD_HEAD_ROOM 512u
#define SBXD_END_ROOM 256u
#define SBXD_WRITE_MAX (SBXD_HEAD_ROOM + 128u + 65536u + 128u + SBXD_END_ROOM)

extern const struct lws_protocols sbxd_protocols[];

/* Replies with a JSON document (stolen) and finishes the transaction. Returns the value
 * the lws callback must return. */
int sbxd_reply(struct lws *wsi, int status, json_t *doc);
int sbxd_reply_error(struct lws *wsi, const struct sbxd_err *err);
/* Routes a complete request. Returns the value the lws callback must return. */
int sbxd_route(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c);
/* Starts the SSE response for a process and attaches the connection as its reader. */
int sbxd_sse_begin(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p);
/* The connection may write: sends what is due. Returns -1 to close it. */
int sbxd_sse_writeable(struct lws *wsi, struct sbxd_proc *p);
/* The process has something new for its reader (output, exit, a tick): sends it now or
 * asks for a WRITEABLE callback. May complete the transaction, which frees p. */
void sbxd_sse_news(struct sbxd_proc *p);
/* Asks for one WRITEABLE callback (a repeated ask before it comes is a no-op). */
void sbxd_sse_want_write(struct sbxd_proc *p);
/* Constant-time comparison of the request's bearer token with the key. */
int sbxd_authorized(struct lws *wsi, const char *key);

#endif
