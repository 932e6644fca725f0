#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <libwebsockets.h>
#include "connwatch.h"

struct sbxd_connwatch {
    uv_poll_t poll;     /* on epfd; first, so its close callback frees the whole */
    int epfd;
    sbxd_conn_event_fn on_event;   /* given by the opener: the watch knows no HTTP */
};

static unsigned watch_events(uint32_t ev)
{
    return (ev & EPOLLOUT ? SBXD_WATCH_OUT : 0u) | (ev & EPOLLRDHUP ? SBXD_WATCH_HALF_CLOSE : 0u) |
           (ev & (EPOLLHUP | EPOLLERR) ? SBXD_WATCH_GONE : 0u);
}

/* Handling one event closes at most that event's connection (which leaves the set
 * first), so the events after it in the batch still name live connections. */
static void on_events(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    struct sbxd_connwatch *w = (struct sbxd_connwatch *)h;
    struct epoll_event ev[16];
    int n = epoll_wait(w->epfd, ev, 16, 0);
    for (int i = 0; i < n; i++) w->on_event(ev[i].data.ptr, watch_events(ev[i].events));
}

int sbxd_connwatch_open(struct sbxd_server *srv, sbxd_conn_event_fn on_event)
{
    struct sbxd_connwatch *w = malloc(sizeof *w);
    if (!w) return -1;
    w->on_event = on_event;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0 || uv_poll_init(&srv->loop, &w->poll, w->epfd) != 0) {
        if (w->epfd >= 0) close(w->epfd);
        free(w);
        return -1;
    }
    srv->conns = w;
    return uv_poll_start(&w->poll, UV_READABLE, on_events);
}

static void free_watch(uv_handle_t *h)
{
    struct sbxd_connwatch *w = (struct sbxd_connwatch *)h;
    close(w->epfd);
    free(w);
}

void sbxd_connwatch_close(struct sbxd_server *srv)
{
    if (!srv->conns) return;
    uv_close((uv_handle_t *)&srv->conns->poll, free_watch);
    srv->conns = NULL;
}

/* EPOLLHUP and EPOLLERR are always reported. EPOLLOUT and EPOLLRDHUP are
 * level-triggered: each is asked for only while it is news. */
static int control(struct sbxd_server *srv, struct lws *wsi, int op, unsigned events)
{
    int fd = lws_get_socket_fd(wsi);
    if (!srv->conns || fd < 0) return -1;
    struct epoll_event ev = {.events = (events & SBXD_WATCH_OUT ? EPOLLOUT : 0u) |
                                       (events & SBXD_WATCH_HALF_CLOSE ? EPOLLRDHUP : 0u),
                             .data.ptr = wsi};
    return epoll_ctl(srv->conns->epfd, op, fd, &ev);
}

int sbxd_connwatch_add(struct sbxd_server *srv, struct lws *wsi, unsigned events)
{
    return control(srv, wsi, EPOLL_CTL_ADD, events);
}

int sbxd_connwatch_modify(struct sbxd_server *srv, struct lws *wsi, unsigned events)
{
    return control(srv, wsi, EPOLL_CTL_MOD, events);
}

void sbxd_connwatch_remove(struct sbxd_server *srv, struct lws *wsi)
{
    control(srv, wsi, EPOLL_CTL_DEL, 0);
}
