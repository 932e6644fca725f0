/* Interactive sessions: a process over one WebSocket, subprotocol sbx.v1 (wschan.h,
 * docs/PROTOCOL.md "Interactive sessions (WebSocket)"). Private to the ws_*.c files:
 * ws_upgrade.c checks a request before lws upgrades it and finds what it is for,
 * ws_session.c makes and frees a connection's session and runs lws' callback, ws_in.c
 * takes the messages received, ws_out.c sends, ws_state.c holds what all three change
 * (they call it; it calls none of them). */
#ifndef SBXD_WS_H
#define SBXD_WS_H
#include "http.h"
#include "wschan.h"
#include "writers.h"

/* One session: the reader of one process, on one WebSocket. Malloc'd: its stdin writes
 * may outlive the connection (they forget it when it goes). */
struct sbxd_ws {
    struct sbxd_reader reader;         /* attached to proc while proc is set */
    struct sbxd_server *srv;
    struct lws *wsi;
    struct sbxd_proc *proc;            /* NULL before the start, after a failed one, or
                                          once freed at shutdown */
    char box_id[64];                   /* the start route's sandbox, looked up at the start */
    int awaiting_start;                /* the start route, before its start message */
    int start_due, end_sent;           /* the start and end status messages */
    char *error;                       /* an error status to send (JSON), then close */
    int close_code;                    /* a close frame due (0: none) */
    char close_reason[SBX_WS_REASON_MAX + 1];
    int close_sent;                    /* sent (or the client's came first): only the
                                          client's answering close is awaited */
    int rx_paused;                     /* lws reads no more of the connection (applied) */
    /* the message being received, when it came in several fragments */
    unsigned char *msg;
    size_t msg_len, msg_cap;
    /* stdin writes not yet done (struct ws_stdin_op), their bytes */
    struct sbx_list stdin_ops;
    size_t stdin_pending;
    /* the session's writer id (writers.h), "" when its connection named none; what its
     * last stdin status said was received */
    char writer[SBXD_WRITER_ID_MAX + 1];
    uint64_t stdin_acked;
    int stdin_ack_due;                 /* a stdin status is due */
};

/* A stdin status goes out once this many more units of a writer's stdin came in than
 * the last one said: the client keeps what it sent until a status says it came. */
#define SBXD_WS_STDIN_ACK_EVERY (256u * 1024u)

/* lws per-session memory of the sbx.v1 protocol. */
struct sbxd_ws_pss {
    struct sbxd_ws *s;
};

/* What a WebSocket request is for: a new process in `box` (start), or the process `proc`
 * from `offset` (attach). */
struct sbxd_ws_target {
    struct sbxd_sandbox *box;
    struct sbxd_proc *proc;            /* NULL for a start */
    uint64_t offset;
    char writer[SBXD_WRITER_ID_MAX + 1]; /* the session's writer id (writers.h), or "" */
};

/* ws_upgrade.c: the target of the request whose head lws holds; -1 with err set when
 * there is none (the request's refusal). */
int sbxd_ws_target(struct lws *wsi, struct sbxd_server *srv, struct sbxd_ws_target *t, struct sbxd_err *err);

/* ws_state.c */
/* The session becomes the reader of process p from `offset`, and the owner of its writer
 * (if it named one): its start status goes out next. */
void sbxd_ws_attach(struct sbxd_ws *s, struct sbxd_proc *p, uint64_t offset);
/* The writer's units of stdin received so far, when the session owns its writer: else
 * NULL (it named none, or a newer connection of the same writer took it over). */
struct sbxd_writer *sbxd_ws_writer(struct sbxd_ws *s);
/* Sends an error status (err's kind and message), then closes with 1008, or 1011 for a
 * server-side failure (status >= 500). */
void sbxd_ws_fail(struct sbxd_ws *s, const struct sbxd_err *err);
/* Closes with `code` and `reason` once what is being sent is out; nothing more is read. */
void sbxd_ws_close(struct sbxd_ws *s, int code, const char *reason);
/* Reads the connection or not, as the session's state says: not while a start waits for
 * its process, while more than SBX_WS_STDIN_PENDING_MAX bytes of stdin are pending, or
 * once a close is due. */
void sbxd_ws_update_rx(struct sbxd_ws *s);
/* Asks lws for a WRITEABLE callback when something is due. */
void sbxd_ws_want_write(struct sbxd_ws *s);
/* Whether anything is due to be sent. */
int sbxd_ws_has_news(const struct sbxd_ws *s);
/* The keep-alive's interval, in microseconds. */
lws_usec_t sbxd_ws_keepalive_us(const struct sbxd_ws *s);

/* ws_in.c: a piece of a received message (lws' RECEIVE); stdin writes' bookkeeping. */
void sbxd_ws_receive(struct sbxd_ws *s, const void *in, size_t len);
/* The session goes: its stdin writes still waiting forget it. */
void sbxd_ws_forget_stdin(struct sbxd_ws *s);

/* ws_out.c: one write, on WRITEABLE. Returns -1 when the connection is to close (after
 * a close frame, when one was due). */
int sbxd_ws_writable(struct sbxd_ws *s);

#endif
