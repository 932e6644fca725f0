#include "sockwatch.h"
#include "loop.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sbx_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct sbx_loop *loop;
    int polling;   /* the uv events the watcher runs with; 0: stopped */
    int wanted;    /* curl watches the fd (else the watcher is parked) */
};

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
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(s->loop->multi, s->fd, flags, &running);
    sbx_loop_check_done(s->loop);
}

static void free_sock(uv_handle_t *h) { free(h->data); }

/* Room in the table for fd. */
static int grow_table(struct sbx_loop *L, curl_socket_t fd)
{
    if ((size_t)fd < L->nsocks) return 0;
    size_t n = L->nsocks ? L->nsocks : 16;
    while (n <= (size_t)fd) n *= 2;
    struct sbx_sock **t = realloc(L->socks, n * sizeof *t);
    if (!t) return -1;
    memset(t + L->nsocks, 0, (n - L->nsocks) * sizeof *t);
    L->socks = t;
    L->nsocks = n;
    return 0;
}

/* The watcher of fd, made on its first use, kept for the fd's next uses: curl stops
 * watching a connection at every pause and at the end of every transfer, and a new
 * watcher costs an allocation, an ioctl and an epoll registration each time. Even when
 * the fd was closed and its number reused, a watcher of that number is right (it was
 * stopped when curl closed the fd, see sbx_sockwatch_on_close). */
static struct sbx_sock *sock_for(struct sbx_loop *L, curl_socket_t fd)
{
    if (fd < 0 || grow_table(L, fd) != 0) return NULL;
    struct sbx_sock *s = L->socks[fd];
    if (s) return s;
    if (!(s = calloc(1, sizeof *s))) return NULL;
    s->fd = fd;
    s->loop = L;
    if (uv_poll_init_socket(&L->uv, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    return L->socks[fd] = s;
}

int sbx_sockwatch_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy, (void)socketp;
    struct sbx_loop *L = userp;
    if (what == CURL_POLL_REMOVE) {
        /* Parked, not stopped: libuv's stop and every start each cost an epoll_ctl, and
         * the same connection is usually watched again by the next request. */
        if (fd >= 0 && (size_t)fd < L->nsocks && L->socks[fd]) L->socks[fd]->wanted = 0;
        return 0;
    }
    struct sbx_sock *s = sock_for(L, fd);
    if (!s) return -1;
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    s->wanted = 1;
    if (events == s->polling) return 0;
    s->polling = events;
    return uv_poll_start(&s->poll, events, on_poll);
}

int sbx_sockwatch_on_close(void *userp, curl_socket_t fd)
{
    struct sbx_loop *L = userp;
    /* Out of epoll before the fd goes: a parked watcher of a closed fd would otherwise
     * look registered to libuv while the kernel has dropped it, and miss the events of
     * the next socket that gets this number. */
    if (fd >= 0 && (size_t)fd < L->nsocks && L->socks[fd]) stop(L->socks[fd]);
    return close(fd);
}

void sbx_sockwatch_close_all(struct sbx_loop *L)
{
    for (size_t fd = 0; fd < L->nsocks; fd++)
        if (L->socks[fd]) uv_close((uv_handle_t *)&L->socks[fd]->poll, free_sock);
    free(L->socks);
    L->socks = NULL;
    L->nsocks = 0;
}
