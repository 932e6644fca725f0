#include "sockwatch.h"

#include <stdlib.h>
#include <string.h>

struct sbx_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct sbx_sockwatch *watch;
    int polling;   /* the uv events the watcher runs with; 0: stopped */
    int wanted;    /* curl watches the fd (else the watcher is parked) */
};

void sbx_sockwatch_init(struct sbx_sockwatch *w, uv_loop_t *uv, sbx_sock_activity_fn on_activity,
                        void *ud)
{
    memset(w, 0, sizeof *w);
    w->uv = uv;
    w->on_activity = on_activity;
    w->ud = ud;
}

static void stop(struct sbx_sock *s)
{
    if (s->polling) uv_poll_stop(&s->poll);
    s->polling = s->wanted = 0;
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct sbx_sock *s = handle->data;
    if (!s->wanted) {
        /* Activity on a parked connection: the server closed it (or spoke out of turn).
         * curl finds out when it next picks the connection; until then, quiet. */
        stop(s);
        return;
    }
    int flags = 0;
    /* An error (libuv's EBADF for POLLERR: a reset) may come with bytes still to read,
     * the end of a response among them: curl reads them first when the error comes with
     * IN, and fails on ERR alone without reading ("select/poll returned error"). */
    if (status < 0) flags = CURL_CSELECT_ERR | CURL_CSELECT_IN;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    s->watch->on_activity(s->watch->ud, s->fd, flags);
}

static void free_sock(uv_handle_t *h) { free(h->data); }

/* Room in the table for fd. */
static int grow_table(struct sbx_sockwatch *w, curl_socket_t fd)
{
    if ((size_t)fd < w->nsocks) return 0;
    size_t n = w->nsocks ? w->nsocks : 16;
    while (n <= (size_t)fd) n *= 2;
    struct sbx_sock **t = realloc(w->socks, n * sizeof *t);
    if (!t) return -1;
    memset(t + w->nsocks, 0, (n - w->nsocks) * sizeof *t);
    w->socks = t;
    w->nsocks = n;
    return 0;
}

/* The watcher of fd, made on its first use, kept for the fd's next uses: curl stops
 * watching a connection at every pause and at the end of every transfer, and a new
 * watcher costs an allocation, an ioctl and an epoll registration each time. Even when
 * the fd was closed and its number reused, a watcher of that number is right (it was
 * stopped when curl closed the fd, see sbx_sockwatch_forget). */
static struct sbx_sock *sock_for(struct sbx_sockwatch *w, curl_socket_t fd)
{
    if (fd < 0 || grow_table(w, fd) != 0) return NULL;
    struct sbx_sock *s = w->socks[fd];
    if (s) return s;
    if (!(s = calloc(1, sizeof *s))) return NULL;
    s->fd = fd;
    s->watch = w;
    if (uv_poll_init_socket(w->uv, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    return w->socks[fd] = s;
}

static struct sbx_sock *existing(const struct sbx_sockwatch *w, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < w->nsocks ? w->socks[fd] : NULL;
}

int sbx_sockwatch_watch(struct sbx_sockwatch *w, curl_socket_t fd, int what)
{
    if (what == CURL_POLL_REMOVE) {
        /* Parked, not stopped: libuv's stop and every start each cost an epoll_ctl, and
         * the same connection is usually watched again by the next request. */
        struct sbx_sock *s = existing(w, fd);
        if (s) s->wanted = 0;
        return 0;
    }
    struct sbx_sock *s = sock_for(w, fd);
    if (!s) return -1;
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    s->wanted = 1;
    if (events == s->polling) return 0;
    s->polling = events;
    return uv_poll_start(&s->poll, events, on_poll);
}

void sbx_sockwatch_forget(struct sbx_sockwatch *w, curl_socket_t fd)
{
    /* Out of epoll before the fd goes: a parked watcher of a closed fd would otherwise
     * look registered to libuv while the kernel has dropped it, and miss the events of
     * the next socket that gets this number. */
    struct sbx_sock *s = existing(w, fd);
    if (s) stop(s);
}

void sbx_sockwatch_close_all(struct sbx_sockwatch *w)
{
    for (size_t fd = 0; fd < w->nsocks; fd++)
        if (w->socks[fd]) uv_close((uv_handle_t *)&w->socks[fd]->poll, free_sock);
    free(w->socks);
    w->socks = NULL;
    w->nsocks = 0;
}
