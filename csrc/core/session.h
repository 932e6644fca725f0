/* An interactive session: one process driven over WebSocket connections of subprotocol
 * sbx.v1 (docs/PROTOCOL.md, "Interactive sessions (WebSocket)"), on the client's lws
 * context (wsctx.h), on the client's uv loop.
 *
 * C never calls Lua from lws or uv callbacks: what happens (the connection opened,
 * output, a status message, the connection closed or failed) is queued as an event, and
 * the session is marked ready in the step's scheduler, the way HTTP operations are; Lua
 * takes the events after the step. Outgoing messages wait in a bounded queue (wstx.h)
 * and go out one lws_write per WRITEABLE callback. Incoming output Lua has not taken
 * stops the reading (lws_rx_flow_control) past the scheduler's bounds, and reading
 * resumes at a later step once Lua drained it.
 *
 * One session may use several connections one after the other: the first starts the
 * process, and after a cut Lua attaches again (sbx_session_connect) from the output
 * offset it reached. stdin not yet written waits for the next connection.
 *
 * Keepalive: once Lua knows the server's interval (the start status), the session pings
 * at that interval, and treats 3 intervals and a second without a byte from the server
 * as a cut: it closes the connection and reports it closed, with reason "silence". */
#ifndef SBX_SESSION_H
#define SBX_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "client.h"
#include "wsrx.h"
#include "wstx.h"

struct lws;

enum sbx_sev_type {
    SBX_SEV_OPEN,     /* the connection is up (the upgrade was accepted) */
    SBX_SEV_OUTPUT,   /* channel 1 or 2: data */
    SBX_SEV_STATUS,   /* a status message's JSON: data */
    SBX_SEV_CLOSED,   /* the connection closed after it was up: code (0: no close frame
                       * came, a cut), data the reason */
    SBX_SEV_ERROR,    /* the connection failed before it was up: code (the HTTP status
                       * of a refused upgrade, 0 when none), data the message, reached */
};

struct sbx_sev {
    struct sbx_list link;
    enum sbx_sev_type type;
    int channel;
    int code;
    int reached;      /* an error: the upgrade request had gone out to a server */
    size_t len;
    char data[];      /* len bytes, and a NUL */
};

/* Where a session connects: a numeric address (or a name resolved first) and port, or a
 * unix socket; the Host header's value; the Authorization header's value (or NULL). */
struct sbx_ws_target {
    const char *address;
    int port;
    const char *unix_socket;
    const char *host;
    const char *authorization;
    int tls;                  /* wss: TLS to `host` (its name checked against the certificate) */
};

enum sbx_session_state {
    SBX_SESSION_IDLE,         /* no connection: not yet, or the last one ended */
    SBX_SESSION_RESOLVING,    /* the address's name is being resolved */
    SBX_SESSION_CONNECTING,   /* connecting, or the upgrade is under way */
    SBX_SESSION_OPEN,
};

struct sbx_session {
    struct sbx_client *client;
    struct sbx_resource resource;   /* in the client's list */
    struct sbx_sched_node node;
    struct lws *wsi;                /* the connection, NULL when none */
    enum sbx_session_state state;
    struct sbx_wstx tx;
    struct sbx_wsrx rx;
    struct sbx_list events;         /* for Lua, oldest first */
    size_t nevents;
    char *address, *unix_socket, *host, *authorization;
    int port, tls;
    char *path;                     /* of the connection being made */
    uv_timer_t timer;               /* keepalive, and the bound of a close */
    uv_getaddrinfo_t resolve;
    int holds;                      /* what must end before the memory goes: the timer
                                     * until closed, a resolve in flight, the connection */
    int released;                   /* the owner let it go */
    int reported;                   /* this connection's end was queued as an event */
    int cert_refused;               /* TLS: this connection's server certificate failed */
    int request_sent;               /* this connection's upgrade request was made: it
                                       reached a server (and TLS, if any, was up) */
    int paused;                     /* reading stopped until Lua drains */
    int wrote;                      /* a message went out on some connection: the server
                                     * may run a process for it */
    int finished;                   /* Lua saw the end status: nothing to kill */
    int closing;                    /* close once the control messages are written */
    int lingers;                    /* let go, closing in the background: counted in
                                       the client's `lingering` until its teardown */
    int close_begun;                /* the close frame is on its way */
    int ping_due;
    double keepalive;               /* seconds; 0: unknown yet */
    uint64_t last_rx, last_ping, close_by;  /* uv_hrtime() */
    char writer[17];                /* its writer id (?writer=, on every connection): the
                                     * server counts the stdin of each writer */
    int peer_code;                  /* the close code the server sent, 0 if none */
    char peer_reason[SBX_WS_REASON_MAX + 1];
    void **owner;                   /* the binding's pointer, cleared when it goes */
};

/* How long a session that is let go may take to send its kill and close before its
 * connection is dropped. */
#define SBX_SESSION_CLOSE_MS 5000

/* A session that starts connecting to `target` at `path` (the connection opens during
 * later steps: an OPEN or ERROR event says how it went). NULL when out of memory or
 * when lws cannot be set up, with the reason in *why. */
struct sbx_session *sbx_session_new(struct sbx_client *C, const struct sbx_ws_target *target,
                                    const char *path, const char **why);
/* A new connection to `path` once the last one ended (state IDLE). 0, or -1 (then an
 * ERROR event follows, or *why says it when nothing was queued). The session's writer id
 * joins the path's query. */
int sbx_session_connect(struct sbx_session *s, const char *path, const char **why);
/* The owner lets the session go: a process it may have started and that Lua did not see
 * end is killed ({"signal":"SIGKILL"}, then close 1000), in the background (nobody
 * waits; at most SBX_SESSION_CLOSE_MS); then the session frees itself. */
void sbx_session_release(struct sbx_session *s);
/* Frees at once what can be (the client's end): no message is sent. */
void sbx_session_destroy(struct sbx_session *s);

/* Outgoing: see wstx.h. Each makes the connection ask for WRITEABLE. */
long sbx_session_write(struct sbx_session *s, const void *data, size_t len);
int sbx_session_eof(struct sbx_session *s);
int sbx_session_control(struct sbx_session *s, int channel, const void *payload, size_t len);

/* The start status of a connection says where the session's stdin stands (`known` 0
 * when it says nothing: a server that keeps no count): stdin goes out again from there
 * (wstx.h). 0, or -1 when out of memory. */
int sbx_session_stdin_resume(struct sbx_session *s, int known, uint64_t units);
/* A stdin status: the server counted `units` of the session's stdin. */
void sbx_session_stdin_counted(struct sbx_session *s, uint64_t units);

/* The server's keepalive interval (seconds, > 0): pings and the silence bound start. */
void sbx_session_keepalive(struct sbx_session *s, double seconds);
/* Lua saw the end status: letting the session go kills nothing. */
void sbx_session_finished(struct sbx_session *s);
/* Marks the session ready (Lua's other waiters look again). */
void sbx_session_poke(struct sbx_session *s);

/* The oldest event, taken out of the queue (the caller frees it); NULL when none. */
struct sbx_sev *sbx_session_pop(struct sbx_session *s);
/* Bytes of events queued for Lua. */
size_t sbx_session_backlog(const struct sbx_session *s);

#endif
