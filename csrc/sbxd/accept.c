/* Accepting connections on sbxd's loop and handing them to lws. Out of descriptors, a
 * listener stays readable with the connection still queued: polling on would wake the
 * loop at once, every time, for an accept that fails again. So a waiting connection is
 * refused instead, on a descriptor held back for it: accepted, answered 503 and closed,
 * so that its client learns why at once rather than wait out its timeout in the queue.
 * When even that fails (the system, not sbxd, is out of descriptors or memory),
 * accepting stops, every listener at once (they share the descriptor table), and a
 * timer resumes it. The connections already open are served all along. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <libwebsockets.h>
#include "listen.h"

/* Bounded, so a flood on one listener cannot hold the loop; the rest stay queued and
 * the listener is readable again at the next turn. */
#define ACCEPTS_PER_WAKE 32
#define RESUME_AFTER_MS 250
#define RESUME_AFTER_TEXT "250 ms"
#define REPORT_EVERY_MS 10000

static void on_readable(uv_poll_t *h, int status, int events);

static void poll_all(struct sbxd_listeners *ls, int on)
{
    for (int i = 0; i < ls->n; i++) {
        if (on) uv_poll_start(&ls->l[i].poll, UV_READABLE, on_readable);
        else uv_poll_stop(&ls->l[i].poll);
    }
}

static void on_resume(uv_timer_t *t)
{
    poll_all(t->data, 1);
}

/* At most one line per REPORT_EVERY_MS, however long the shortage lasts. */
static void report_shortage(struct sbxd_listeners *ls, int err, const char *doing)
{
    uint64_t now = uv_now(ls->resume.loop);
    if (ls->quiet || (ls->reported && now - ls->reported_at < REPORT_EVERY_MS)) return;
    ls->reported = 1, ls->reported_at = now;
    fprintf(stderr, "sbxd: accept: %s; %s (reported at most every %d s)\n", strerror(err), doing,
            REPORT_EVERY_MS / 1000);
}

static void pause_accepting(struct sbxd_listeners *ls, int err)
{
    poll_all(ls, 0);
    uv_timer_start(&ls->resume, on_resume, RESUME_AFTER_MS, 0);
    report_shortage(ls, err, "not accepting for " RESUME_AFTER_TEXT);
}

/* Errors of one connection, already gone from the queue (accept(2) on Linux passes
 * the pending network errors of the new socket on): accepting goes on. */
static int connection_error(int err)
{
    switch (err) {
    case EINTR: case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN: case ENOPROTOOPT:
    case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
        return 1;
    default:
        return 0;
    }
}

#define REFUSAL_BODY                                                                           \
    "{\"error\":{\"kind\":\"SandboxError\",\"message\":\"out of file descriptors: sbxd cannot take " \
    "a connection now; try again later\"}}"
#define REFUSAL_BODY_LEN "121"
_Static_assert(sizeof REFUSAL_BODY - 1 == 121, "REFUSAL_BODY_LEN must be the body's length");

static const char REFUSAL[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: " REFUSAL_BODY_LEN "\r\n"
                              "Connection: close\r\n\r\n" REFUSAL_BODY;

/* Takes one waiting connection on the reserved descriptor and refuses it with 503.
 * What the client sent so far is read first, so the close sends no reset that could
 * destroy the answer in flight. accept(2) takes a descriptor before it looks at the
 * queue, so EMFILE does not say a connection waits: 1 when one was refused, 0 when none
 * was waiting, -1 with errno set when the reserve could not serve. */
static int refuse_one(struct sbxd_listener *l)
{
    struct sbxd_listeners *ls = l->set;
    if (ls->reserve < 0) return errno = EMFILE, -1;
    close(ls->reserve);
    ls->reserve = -1;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int accept_errno = errno;
    if (fd >= 0) {
        char sink[4096];
        for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {}
        if (send(fd, REFUSAL, sizeof REFUSAL - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {}
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    ls->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return 1;
    errno = accept_errno;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

/* Answers go out in few writes (http.h): Nagle would hold a second one back for the
 * peer's delayed ACK. lws closes the socket if it cannot adopt it. */
static void hand_over(struct sbxd_listener *l, int fd)
{
    int on = 1;
    if (l->addr.sa.ss_family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    lws_adopt_socket_vhost(l->set->vhost, fd);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct sbxd_listener *l = h->data;
    if (status != 0) {
        pause_accepting(l->set, -status);
        return;
    }
    for (int i = 0, refused; i < ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            hand_over(l, fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno == EMFILE && (refused = refuse_one(l)) >= 0) {
            if (!refused) return;
            report_shortage(l->set, EMFILE, "refusing connections with 503");
        } else if (!connection_error(errno)) { /* ENFILE, ENOBUFS, ENOMEM, or no reserve */
            pause_accepting(l->set, errno);
            return;
        }
    }
}

int sbxd_accept_start(struct sbxd_listeners *ls, uv_loop_t *loop, struct lws_vhost *vh)
{
    ls->vhost = vh;
    ls->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (uv_timer_init(loop, &ls->resume) != 0) return -1;
    ls->resume.data = ls;
    ls->resume_ready = 1;
    for (int i = 0; i < ls->n; i++) {
        struct sbxd_listener *l = &ls->l[i];
        if (uv_poll_init_socket(loop, &l->poll, l->fd) != 0) return -1;
        l->poll.data = l;
        l->poll_ready = 1;
    }
    poll_all(ls, 1);
    return 0;
}
