/* Reading and checking what a sandbox's init says (initmsg.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "initmsg.h"

/* A wait status of a process that ended: exit code << 8, or a signal number (1 to
 * NSIG-1) with the core-dump bit. What is left of the W* encodings (stopped: 0x7f in the
 * low byte; continued: 0xffff) and any bit above them is refused. */
static int ended_status(int32_t st)
{
    if (st < 0 || st > 0xffff) return 0;
    int sig = st & 0x7f;
    if (sig == 0) return (st & 0x80) == 0;  /* WIFEXITED */
    return sig < NSIG && (st >> 8) == 0;    /* WIFSIGNALED */
}

static int known_step(int32_t step)
{
    return step >= SBX_STEP_SETUP && step <= SBX_STEP_PAYLOAD;
}

/* The message with only its type's fields, or -1. */
static int checked(const struct sbx_init_reply *in, size_t nfds, struct sbx_init_reply *out)
{
    memset(out, 0, sizeof *out);
    out->type = in->type;
    switch (in->type) {
    case SBX_INIT_READY:
        out->pid = in->pid;
        return nfds == 0 && in->pid > 0 ? 0 : -1;
    case SBX_INIT_STARTED:
        out->seq = in->seq, out->pid = in->pid;
        return nfds <= 1 && in->pid > 0 ? 0 : -1;
    case SBX_INIT_FAILED:
        out->seq = in->seq, out->step = in->step, out->err = in->err;
        return nfds == 0 && known_step(in->step) && in->err > 0 && in->err < 4096 ? 0 : -1;
    case SBX_INIT_EXITED:
        out->pid = in->pid, out->status = in->status;
        return nfds == 0 && in->pid > 0 && ended_status(in->status) ? 0 : -1;
    default:
        return -1;
    }
}

int sbxd_initmsg_decode(const void *buf, size_t len, const int *fds, size_t nfds, struct sbx_init_reply *out,
                        int *fd_out)
{
    struct sbx_init_reply in;
    *fd_out = -1;
    if (len != sizeof in) return -1;
    memcpy(&in, buf, sizeof in); /* buf may be unaligned */
    if (checked(&in, nfds, out) != 0) return -1;
    if (nfds == 1) *fd_out = fds[0];
    return 0;
}

static void close_all(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* The descriptors of every SCM_RIGHTS part: the first maxfds into fds, the rest closed.
 * 1 when some were closed so. */
static int take_fds(struct msghdr *h, int *fds, size_t maxfds, size_t *nfds)
{
    int dropped = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (*nfds < maxfds) fds[(*nfds)++] = fd;
            else close(fd), dropped = 1;
        }
    }
    return dropped;
}

/* Room for a few descriptors more than any reply carries: more than the caller takes
 * are seen, closed and refused, rather than silently cut off by the kernel. */
#define RECV_FDS 8

ssize_t sbxd_initmsg_recv(int fd, void *buf, size_t cap, int *fds, size_t maxfds, size_t *nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(RECV_FDS * sizeof(int))];
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    *nfds = 0;
    ssize_t n;
    do n = recvmsg(fd, &h, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    int dropped = take_fds(&h, fds, maxfds, nfds);
    if (n > 0 && !dropped && !(h.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return n;
    close_all(fds, *nfds);
    *nfds = 0;
    if (n == 0) return 0;
    errno = EBADMSG;
    return -1;
}
