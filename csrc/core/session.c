#include "session.h"
#include "tlshost.h"
#include "wsctx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* OpenSSL's verdict on one certificate of the server's chain (`ok`: its preverify_ok).
 * lws passes OpenSSL's store, not the session, as this callback's user: the session is
 * the connection's. A refusal is noted so that the failure says why. The one verdict
 * overruled is lws' own host mismatch for an IPv6 address (tlshost.h): the address is
 * checked instead, and the error cleared when the certificate names it. */
static int on_cert_verified(struct lws *wsi, void *x509_ctx, size_t ok)
{
    struct sbx_session *s = wsi ? lws_wsi_user(wsi) : NULL;
    if (s && !ok && !sbx_tls_ipv6_host_named(x509_ctx, s->host)) s->cert_refused = 1;
    return 0; /* OpenSSL's verdict stands, or the error cleared is its verdict now */
}

static int lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                        void *in, size_t len);

/* The sessions' protocol: its name is the subprotocol the client asks for, and the one
 * its connections bind to. rx_buffer_size: lws hands a message over in fragments of at
 * most this much. */
static const struct lws_protocols PROTOCOLS[] = {
    {SBX_WS_PROTOCOL, lws_callback, 0, 64 * 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const char SIGKILL_JSON[] = "{\"signal\":\"SIGKILL\"}";

static struct sbx_session *session_of_node(struct sbx_sched_node *n)
{
    return sbx_list_entry(n, struct sbx_session, node);
}

/* --- memory ---------------------------------------------------------------------------- */

static void free_events(struct sbx_session *s)
{
    struct sbx_sev *ev;
    while ((ev = sbx_session_pop(s))) free(ev);
}

/* Frees the session once its owner let go and nothing holds it any more. */
static void maybe_free(struct sbx_session *s)
{
    if (!s->released || s->holds > 0) return;
    free_events(s);
    sbx_wstx_clear(&s->tx);
    sbx_wsrx_free(&s->rx);
    free(s->address);
    free(s->unix_socket);
    free(s->host);
    free(s->authorization);
    free(s->path);
    free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct sbx_session *s = h->data;
    s->holds--;
    maybe_free(s);
}

/* The client's lws context for connections with TLS (wss) or without. */
static struct sbx_wsctx *client_wsctx(struct sbx_client *C, int tls)
{
    return tls ? &C->wss : &C->ws;
}

/* The lws context of the session's connections. */
static struct sbx_wsctx *wsctx_of(struct sbx_session *s)
{
    return client_wsctx(s->client, s->tls);
}

/* Out of the scheduler, and the owner's: nobody will take its events any more. */
static void forget_owner(struct sbx_session *s)
{
    sbx_sched_forget(&s->client->sched, &s->node);
    if (s->owner) *s->owner = NULL;
    s->owner = NULL;
    s->released = 1;
}

/* The connection is no longer this session's: its later callbacks find no session. */
static void let_go_of_wsi(struct sbx_session *s)
{
    if (!s->wsi) return;
    lws_set_wsi_user(s->wsi, NULL);
    s->wsi = NULL;
    s->holds--;
    sbx_wsctx_disconnected(wsctx_of(s));
}

/* Ends everything at once and frees what is left when the loop lets it. */
static void teardown(struct sbx_session *s)
{
    if (s->lingers) s->lingers = 0, s->client->lingering--;
    forget_owner(s);
    sbx_list_remove(&s->resource.link); /* the client's end needs it gone at once */
    let_go_of_wsi(s);
    if (s->state == SBX_SESSION_RESOLVING) uv_cancel((uv_req_t *)&s->resolve);
    s->state = SBX_SESSION_IDLE;
    if (!uv_is_closing((uv_handle_t *)&s->timer)) uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    maybe_free(s);
}

/* --- events for Lua -------------------------------------------------------------------- */

static void push_event(struct sbx_session *s, enum sbx_sev_type type, int channel, int code,
                       const void *data, size_t len)
{
    if (s->released) return;
    struct sbx_sev *ev = malloc(sizeof *ev + len + 1);
    if (!ev) return; /* the close that follows, or Lua's deadline, says the rest */
    ev->link.prev = ev->link.next = NULL;
    ev->type = type;
    ev->channel = channel;
    ev->code = code;
    ev->reached = type == SBX_SEV_ERROR && s->request_sent;
    ev->len = len;
    if (len) memcpy(ev->data, data, len);
    ev->data[len] = '\0';
    sbx_list_push_back(&s->events, &ev->link);
    s->nevents++;
    s->node.backlog += len;
    sbx_sched_mark_ready(&s->client->sched, &s->node);
}

static void push_text(struct sbx_session *s, enum sbx_sev_type type, int code, const char *text)
{
    push_event(s, type, -1, code, text, strlen(text));
}

/* The end of the current connection, reported once: closed after it was up, or failed
 * before. */
static void report_end(struct sbx_session *s, enum sbx_sev_type type, int code, const char *why)
{
    if (s->reported) return;
    s->reported = 1;
    push_text(s, type, code, why);
}

struct sbx_sev *sbx_session_pop(struct sbx_session *s)
{
    struct sbx_list *first = sbx_list_first(&s->events);
    if (!first) return NULL;
    sbx_list_remove(first);
    s->nevents--;
    struct sbx_sev *ev = sbx_list_entry(first, struct sbx_sev, link);
    s->node.backlog -= ev->len;
    return ev;
}

size_t sbx_session_backlog(const struct sbx_session *s)
{
    return s->node.backlog;
}

void sbx_session_poke(struct sbx_session *s)
{
    sbx_sched_mark_ready(&s->client->sched, &s->node);
}

/* --- the timer: keepalive, and the bound of a close ---------------------------------- */

static uint64_t ms_since(uint64_t then, uint64_t now)
{
    return now > then ? (now - then) / 1000000u : 0;
}

/* Drops the connection at once (from outside lws' callbacks). */
static void drop_connection(struct sbx_session *s)
{
    if (s->wsi) lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static void arm_timer(struct sbx_session *s);

static void on_timer(uv_timer_t *t)
{
    struct sbx_session *s = t->data;
    uint64_t now = uv_hrtime();
    if (s->closing && now >= s->close_by) {
        drop_connection(s);
        return;
    }
    if (s->state == SBX_SESSION_OPEN && s->keepalive > 0) {
        uint64_t silence_ms = (uint64_t)((3 * s->keepalive + 1) * 1000);
        if (ms_since(s->last_rx, now) >= silence_ms) {
            char why[96];
            snprintf(why, sizeof why, "silence: sbxd sent nothing for %g s", 3 * s->keepalive + 1);
            report_end(s, SBX_SEV_CLOSED, 0, why);
            drop_connection(s);
            return;
        }
        if (ms_since(s->last_ping, now) >= (uint64_t)(s->keepalive * 1000)) {
            s->ping_due = 1;
            s->last_ping = now;
            lws_callback_on_writable(s->wsi);
        }
    }
    arm_timer(s);
}

/* The timer fires at the next of: a ping due, the silence bound, the close's bound. */
static void arm_timer(struct sbx_session *s)
{
    uint64_t now = uv_hrtime(), due = UINT64_MAX;
    if (s->state == SBX_SESSION_OPEN && s->keepalive > 0) {
        uint64_t k = (uint64_t)(s->keepalive * 1e9);
        uint64_t ping_at = s->last_ping + k, cut_at = s->last_rx + 3 * k + 1000000000u;
        due = ping_at < cut_at ? ping_at : cut_at;
    }
    if (s->closing && s->close_by < due) due = s->close_by;
    if (due == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t ms = due > now ? (due - now + 999999u) / 1000000u : 0;
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

void sbx_session_keepalive(struct sbx_session *s, double seconds)
{
    if (!(seconds > 0) || seconds > 1e6) return;
    s->keepalive = seconds;
    s->last_ping = uv_hrtime();
    arm_timer(s);
}

void sbx_session_finished(struct sbx_session *s)
{
    s->finished = 1;
}

/* --- connecting ------------------------------------------------------------------------ */

static void mark_writable(struct sbx_session *s)
{
    if (s->wsi && s->state == SBX_SESSION_OPEN) lws_callback_on_writable(s->wsi);
}

/* Starts the lws connection to `address` (numeric, or "+path" for a unix socket). */
static int open_connection(struct sbx_session *s, const char *address, const char **why)
{
    struct lws_context *ctx = sbx_wsctx_get(wsctx_of(s), PROTOCOLS);
    if (!ctx) return *why = "libwebsockets could not be set up", -1;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = ctx;
    i.address = address;
    i.port = s->port;
    i.path = s->path;
    i.host = s->host;
    i.protocol = SBX_WS_PROTOCOL;
    i.userdata = s;
    i.ssl_connection = s->tls ? LCCSCF_USE_SSL : 0;
    s->reported = 0;
    s->cert_refused = 0;
    s->request_sent = 0;
    s->state = SBX_SESSION_CONNECTING;
    sbx_wsrx_reset(&s->rx);
    struct lws *wsi = lws_client_connect_via_info(&i);
    if (!wsi) {
        /* lws reports a failure inside the call by its result only */
        s->state = SBX_SESSION_IDLE;
        *why = "the connection could not be made";
        return -1;
    }
    s->wsi = wsi;
    s->holds++;
    sbx_wsctx_connected(wsctx_of(s));
    return 0;
}

/* Whether a unix socket takes connections: 0, or the errno of a refused connect. A
 * connect that fails at once (no listener: ECONNREFUSED, ENOENT) fails inside
 * lws_client_connect_via_info, and lws 4.1 then leaks its uv handle for the socket; so
 * every connection to a unix socket is tried here first (sbxd accepts the probe and sees
 * it close at once: a few microseconds on both sides). */
static int unix_socket_refuses(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN ? 0 : errno;
    close(fd);
    return rc;
}

static int connect_address(struct sbx_session *s, const char **why)
{
    if (s->unix_socket) {
        int refused = unix_socket_refuses(s->unix_socket);
        if (refused) return *why = strerror(refused), -1;
        size_t n = strlen(s->unix_socket);
        char *plus = malloc(n + 2);
        if (!plus) return *why = "out of memory", -1;
        plus[0] = '+'; /* lws' form of a unix socket's address */
        memcpy(plus + 1, s->unix_socket, n + 1);
        int rc = open_connection(s, plus, why);
        free(plus);
        return rc;
    }
    return open_connection(s, s->address, why);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sbx_session *s = req->data;
    s->holds--;
    s->state = SBX_SESSION_IDLE;
    char ip[INET6_ADDRSTRLEN] = "";
    if (status == 0 && res)
        uv_ip_name(res->ai_addr, ip, sizeof ip);
    if (res) uv_freeaddrinfo(res);
    if (s->released) {
        maybe_free(s);
        return;
    }
    const char *why = NULL;
    if (status != 0 || !ip[0]) {
        report_end(s, SBX_SEV_ERROR, 0, status ? uv_strerror(status) : "no address");
        return;
    }
    if (open_connection(s, ip, &why) != 0) report_end(s, SBX_SEV_ERROR, 0, why);
}

/* A numeric address connects at once; a name is resolved first, off the loop (lws would
 * resolve it with a blocking call). */
static int start_connect(struct sbx_session *s, const char **why)
{
    unsigned char probe[sizeof(struct in6_addr)];
    if (s->unix_socket || inet_pton(AF_INET, s->address, probe) == 1 ||
        inet_pton(AF_INET6, s->address, probe) == 1)
        return connect_address(s, why);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    s->resolve.data = s;
    int rc = uv_getaddrinfo(&s->client->loop.uv, &s->resolve, on_resolved, s->address, NULL, &hints);
    if (rc != 0) return *why = uv_strerror(rc), -1;
    s->state = SBX_SESSION_RESOLVING;
    s->holds++;
    return 0;
}

/* path with the session's writer id added to its query; NULL when out of memory. */
static char *with_writer(const struct sbx_session *s, const char *path)
{
    size_t n = strlen(path) + sizeof "&writer=" + sizeof s->writer;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%swriter=%s", path, strchr(path, '?') ? "&" : "?", s->writer);
    return p;
}

int sbx_session_connect(struct sbx_session *s, const char *path, const char **why)
{
    if (s->state != SBX_SESSION_IDLE || s->wsi) return *why = "the session is still connected", -1;
    char *copy = with_writer(s, path);
    if (!copy) return *why = "out of memory", -1;
    free(s->path);
    s->path = copy;
    s->peer_code = 0;
    s->peer_reason[0] = '\0';
    s->paused = 0;
    s->close_begun = 0;
    return start_connect(s, why);
}

static void destroy_resource(struct sbx_resource *r)
{
    sbx_session_destroy(sbx_list_entry(r, struct sbx_session, resource));
}

static void resume_reading(struct sbx_sched_node *n)
{
    struct sbx_session *s = session_of_node(n);
    if (!s->paused) return;
    s->paused = 0;
    if (s->wsi) lws_rx_flow_control(s->wsi, 1);
}

static void no_start(struct sbx_sched_node *n)
{
    (void)n; /* sessions never wait for a turn to start */
}

static const struct sbx_sched_class SESSION_CLASS = {.start = no_start, .resume = resume_reading};

static char *dup_opt(const char *s, int *failed)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *failed = 1;
    return d;
}

/* 16 hex digits, random: no two sessions writing to one process share one. */
static void new_writer_id(char out[17])
{
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = uv_hrtime() ^ (uint64_t)(uintptr_t)out;
        memcpy(r, &t, sizeof r);
    }
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

struct sbx_session *sbx_session_new(struct sbx_client *C, const struct sbx_ws_target *target,
                                    const char *path, const char **why)
{
    *why = "out of memory";
    if (!sbx_wsctx_get(client_wsctx(C, target->tls), PROTOCOLS)) return *why = "libwebsockets could not be set up", NULL;
    struct sbx_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->client = C;
    s->resource.destroy = destroy_resource;
    sbx_list_push_back(&C->resources, &s->resource.link);
    s->node.cls = &SESSION_CLASS;
    sbx_list_init(&s->events);
    sbx_wstx_init(&s->tx);
    sbx_wsrx_init(&s->rx);
    new_writer_id(s->writer);
    uv_timer_init(&C->loop.uv, &s->timer);
    s->timer.data = s;
    s->holds = 1; /* the timer, until its close callback */
    int failed = 0;
    s->address = dup_opt(target->address, &failed);
    s->unix_socket = dup_opt(target->unix_socket, &failed);
    s->host = dup_opt(target->host ? target->host : "localhost", &failed);
    s->authorization = dup_opt(target->authorization, &failed);
    s->port = target->port;
    s->tls = target->tls;
    if (failed || (!s->address && !s->unix_socket) || sbx_session_connect(s, path, why) != 0) {
        if (!failed && !s->address && !s->unix_socket) *why = "no address";
        teardown(s);
        return NULL;
    }
    return s;
}

/* --- outgoing -------------------------------------------------------------------------- */

int sbx_session_stdin_resume(struct sbx_session *s, int known, uint64_t units)
{
    int rc = sbx_wstx_resume_stdin(&s->tx, known, units);
    if (sbx_wstx_pending(&s->tx)) mark_writable(s);
    sbx_session_poke(s); /* a writer waiting on what was written looks again */
    return rc;
}

void sbx_session_stdin_counted(struct sbx_session *s, uint64_t units)
{
    sbx_wstx_stdin_counted(&s->tx, units);
}

long sbx_session_write(struct sbx_session *s, const void *data, size_t len)
{
    long n = sbx_wstx_push_stdin(&s->tx, data, len);
    if (n > 0) mark_writable(s);
    return n;
}

int sbx_session_eof(struct sbx_session *s)
{
    if (sbx_wstx_push_eof(&s->tx) != 0) return -1;
    mark_writable(s);
    return 0;
}

int sbx_session_control(struct sbx_session *s, int channel, const void *payload, size_t len)
{
    int rc = sbx_wstx_push_control(&s->tx, channel, payload, len, 0);
    if (rc == 0) mark_writable(s);
    return rc;
}

/* --- letting go ------------------------------------------------------------------------ */

/* A session let go while its process may run: the kill goes first of all (the stdin
 * still queued is dropped, nobody will read it), then the close; the timer bounds it. */
static void close_in_background(struct sbx_session *s, int kill)
{
    sbx_wstx_drop_input(&s->tx);
    if (kill) sbx_wstx_push_control(&s->tx, SBX_WS_STATUS, SIGKILL_JSON, sizeof SIGKILL_JSON - 1, 1);
    s->closing = 1;
    if (!s->lingers) s->lingers = 1, s->client->lingering++;
    s->close_by = uv_hrtime() + (uint64_t)SBX_SESSION_CLOSE_MS * 1000000u;
    arm_timer(s);
    mark_writable(s); /* once connected, if it is not yet */
}

void sbx_session_release(struct sbx_session *s)
{
    int may_run = s->wrote && !s->finished;
    forget_owner(s); /* it stays in the client's list: its end destroys it if need be */
    free_events(s);
    if (s->state == SBX_SESSION_OPEN || (s->state == SBX_SESSION_CONNECTING && may_run)) {
        close_in_background(s, may_run);
        return;
    }
    /* connecting to start a process not asked for yet, resolving, or no connection:
     * nothing to tell the server */
    if (s->state == SBX_SESSION_CONNECTING) drop_connection(s);
    teardown(s);
}

void sbx_session_destroy(struct sbx_session *s)
{
    teardown(s);
}

/* --- lws' callbacks -------------------------------------------------------------------- */

static void on_established(struct sbx_session *s)
{
    s->state = SBX_SESSION_OPEN;
    /* stdin waits for the start status to say where it stands on the server */
    if (s->tx.keep) s->tx.held = 1;
    s->last_rx = s->last_ping = uv_hrtime();
    push_event(s, SBX_SEV_OPEN, -1, 0, NULL, 0);
    if (sbx_wstx_pending(&s->tx) || s->closing) lws_callback_on_writable(s->wsi);
    arm_timer(s);
}

/* Output past the step's budget, or more than Lua holds undrained, stops the reading
 * until a later step (the scheduler resumes it once Lua drained half). */
static void took_output(struct sbx_session *s, size_t len)
{
    struct sbx_sched *S = &s->client->sched;
    sbx_sched_took(S, len);
    if (s->paused || sbx_sched_may_take(S, &s->node)) return;
    s->paused = 1;
    lws_rx_flow_control(s->wsi, 0);
    sbx_sched_pause(S, &s->node);
}

/* A received fragment. -1 when it broke the protocol: the connection closes. */
static int on_receive(struct sbx_session *s, struct lws *wsi, const void *in, size_t len)
{
    s->last_rx = uv_hrtime();
    struct sbx_wsrx_item item;
    enum sbx_wsrx_kind k = sbx_wsrx_feed(&s->rx, in, len, lws_is_first_fragment(wsi),
                                         lws_is_final_fragment(wsi), !lws_frame_is_binary(wsi), &item);
    if (k == SBX_WSRX_OUTPUT && item.len) {
        push_event(s, SBX_SEV_OUTPUT, item.channel, 0, item.data, item.len);
        took_output(s, item.len);
    } else if (k == SBX_WSRX_STATUS) {
        push_event(s, SBX_SEV_STATUS, SBX_WS_STATUS, 0, item.data, item.len);
    } else if (k == SBX_WSRX_FAIL) {
        char why[160];
        snprintf(why, sizeof why, "sbxd broke the protocol: %s", item.why.reason);
        report_end(s, SBX_SEV_CLOSED, item.why.close_code, why);
        lws_close_reason(wsi, (enum lws_close_status)item.why.close_code,
                         (unsigned char *)item.why.reason, strlen(item.why.reason));
        return -1;
    }
    return 0;
}

/* The close frame 1000 goes out through lws' close, begun from the connection's timer
 * (LWS_CALLBACK_TIMER): one begun by this callback failing would be dropped unsent (the
 * connection is closed a second time at once). */
static int begin_close(struct sbx_session *s, struct lws *wsi)
{
    static const char BYE[] = "closed by the client";
    if (s->close_begun) return 0;
    s->close_begun = 1;
    lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)BYE, sizeof BYE - 1);
    lws_set_timer_usecs(wsi, 1);
    return 0;
}

/* One message per WRITEABLE: a due ping first, then control, then stdin; a session that
 * is closing closes once its control messages are out. */
static int on_writeable(struct sbx_session *s, struct lws *wsi)
{
    if (s->ping_due) {
        unsigned char ping[LWS_PRE + 1];
        s->ping_due = 0;
        if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    struct sbx_wsmsg *m = sbx_wstx_next(&s->tx);
    if (s->closing && (!m || m->kind != SBX_WSMSG_CONTROL)) return begin_close(s, wsi);
    if (!m) return 0;
    if (lws_write(wsi, m->bytes, m->len, LWS_WRITE_BINARY) < (int)m->len) return -1;
    int progress = m->kind == SBX_WSMSG_STDIN;
    sbx_wstx_written(&s->tx, m);
    s->wrote = 1;
    if (progress) sbx_session_poke(s); /* a writer waiting for room may go on */
    if (sbx_wstx_pending(&s->tx) || s->closing) lws_callback_on_writable(wsi);
    return 0;
}

/* The server's close frame: its code (big-endian, first) and reason. */
static void on_peer_close(struct sbx_session *s, const unsigned char *in, size_t len)
{
    if (len < 2) return;
    s->peer_code = in[0] << 8 | in[1];
    size_t n = len - 2 < SBX_WS_REASON_MAX ? len - 2 : SBX_WS_REASON_MAX;
    memcpy(s->peer_reason, in + 2, n);
    s->peer_reason[n] = '\0';
}

static void on_connection_error(struct sbx_session *s, struct lws *wsi, const char *in, size_t len)
{
    s->state = SBX_SESSION_IDLE;
    if (s->reported) return;
    s->reported = 1;
    int status = lws_http_client_http_response(wsi);
    if (s->cert_refused)
        push_text(s, SBX_SEV_ERROR, status, "the server's TLS certificate could not be verified "
                  "with the CA certificates trusted ($SSL_CERT_FILE, else the system's), or "
                  "does not name the host");
    else if (in && len) push_event(s, SBX_SEV_ERROR, -1, status, in, strnlen(in, len));
    else push_text(s, SBX_SEV_ERROR, status, "the connection failed");
}

static void on_closed(struct sbx_session *s)
{
    s->state = SBX_SESSION_IDLE;
    report_end(s, SBX_SEV_CLOSED, s->peer_code, s->peer_reason);
}

/* The connection is gone for good. */
static void on_wsi_destroy(struct sbx_session *s, struct lws *wsi)
{
    if (s->wsi != wsi) return; /* one that failed inside lws_client_connect_via_info */
    s->wsi = NULL;
    s->holds--;
    sbx_wsctx_disconnected(wsctx_of(s));
    s->state = SBX_SESSION_IDLE;
    s->paused = 0;
    sbx_sched_unqueue(&s->client->sched, &s->node);
    report_end(s, SBX_SEV_CLOSED, s->peer_code, s->peer_reason);
    if (s->released) {
        uv_timer_stop(&s->timer);
        teardown(s);
    } else {
        arm_timer(s);
    }
}

/* lws builds the upgrade request once the connection (and its TLS) is up. */
static int on_handshake_headers(struct sbx_session *s, struct lws *wsi, void *in, size_t len)
{
    s->request_sent = 1;
    if (!s->authorization) return 0;
    unsigned char **p = in, *end = *p + len;
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                        (const unsigned char *)s->authorization,
                                        (int)strlen(s->authorization), p, end) ? -1 : 0;
}

static int lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                        void *in, size_t len)
{
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
        return on_cert_verified(wsi, user, len);
    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) { /* user: the client SSL_CTX */
        sbx_tls_names_hosts_only(user);
        return 0;
    }
    struct sbx_session *s = user;
    if (!s) /* let go of: it closes */
        return reason == LWS_CALLBACK_CLIENT_WRITEABLE || reason == LWS_CALLBACK_TIMER ? -1 : 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: return on_handshake_headers(s, wsi, in, len);
    case LWS_CALLBACK_CLIENT_ESTABLISHED: on_established(s); return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: return on_receive(s, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG: s->last_rx = uv_hrtime(); return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(s, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: on_peer_close(s, in, len); return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: on_connection_error(s, wsi, in, len); return 0;
    case LWS_CALLBACK_CLIENT_CLOSED: on_closed(s); return 0;
    case LWS_CALLBACK_WSI_DESTROY: on_wsi_destroy(s, wsi); return 0;
    case LWS_CALLBACK_TIMER: return s->close_begun ? -1 : 0;
    default: return 0;
    }
}
