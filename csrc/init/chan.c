/* The channel to sbxd: receiving a message with its descriptors, sending a reply. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "init.h"

void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* The descriptors of every SCM_RIGHTS part, as many as fit into m->fds; the rest are
 * closed at once and m->fds_lost is set. */
static void take_fds(struct msghdr *h, struct chan_msg *m)
{
    const size_t cap = sizeof m->fds / sizeof m->fds[0];
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (m->nfds < cap) m->fds[m->nfds++] = fd;
            else close(fd), m->fds_lost = 1;
        }
    }
}

/* One packet: its length (m->len 0 when it was longer than any message), 0 at EOF, -1 on
 * error (errno EAGAIN when there was none after all). The descriptors arrive
 * close-on-exec: a command never inherits one by accident. When the kernel could not
 * pass them all (MSG_CTRUNC), those it did pass are closed and fds_lost is set. */
ssize_t chan_recv(int chan, struct chan_msg *m)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof m->fds)];
    } ctl;
    struct iovec iov = {&m->u, sizeof m->u};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    memset(&m->u, 0, sizeof m->u);
    m->nfds = 0;
    m->fds_lost = 0;
    ssize_t n;
    do n = recvmsg(chan, &h, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    take_fds(&h, m);
    if (h.msg_flags & MSG_CTRUNC) {
        close_fds(m->fds, m->nfds);
        m->nfds = 0;
        m->fds_lost = 1;
    }
    m->len = (h.msg_flags & MSG_TRUNC) ? 0 : (size_t)n;
    return n;
}

/* A reply, with at most one descriptor (-1: none). Blocking: sbxd always reads its end,
 * and a reply (an EXITED above all) must not be lost to a full channel. MSG_NOSIGNAL: a
 * closed channel is an error here, never a SIGPIPE. */
int chan_send(int chan, const struct sbx_init_reply *r, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {(void *)r, sizeof *r};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        h.msg_control = ctl.buf;
        h.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fd);
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ssize_t n;
    do n = sendmsg(chan, &h, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *r ? 0 : -1;
}
