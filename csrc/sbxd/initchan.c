#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "initchan.h"
#include "initmsg.h"

/* Messages read per readiness: an init that floods its channel gets its share of the
 * loop and no more. */
#define READS_PER_TURN 64

/* A message the channel could not take yet (its queue is full: the init is busy, or
 * behind by more than the kernel's queue of packets); sent in order once it can. Holds
 * its own copies of its descriptors. */
struct pending {
    struct pending *next;
    int is_start;
    struct sbx_init_start start;
    struct sbx_init_signal sig;
    int fds[4];
    size_t nfds;
};

struct sbxd_initchan {
    uv_poll_t poll;
    int fd;
    int over;                 /* the callback was told; nothing more is read */
    uint32_t next_seq;
    sbxd_initchan_cb cb;
    void *ctx;
    struct pending *head, *tail;
};

static void free_chan(uv_handle_t *h)
{
    free(h->data);
}

static void free_pending(struct pending *q)
{
    for (size_t i = 0; i < q->nfds; i++) close(q->fds[i]);
    free(q);
}

void sbxd_initchan_close(struct sbxd_initchan *ch)
{
    if (!ch) return;
    while (ch->head) {
        struct pending *q = ch->head;
        ch->head = q->next;
        free_pending(q);
    }
    ch->tail = NULL;
    ch->over = 1;
    uv_poll_stop(&ch->poll);
    uv_close((uv_handle_t *)&ch->poll, free_chan);
    close(ch->fd);
    ch->fd = -1;
}

static void close_fds(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) close(fds[i]);
}

static void on_ready(uv_poll_t *h, int status, int events);

/* One message: 1 handed on, 0 none waiting, -1 the channel is over. */
static int read_one(struct sbxd_initchan *ch)
{
    unsigned char buf[sizeof(struct sbx_init_reply) + 1];
    int fds[SBXD_INITMSG_MAX_FDS];
    size_t nfds = 0;
    ssize_t len = sbxd_initmsg_recv(ch->fd, buf, sizeof buf, fds, SBXD_INITMSG_MAX_FDS, &nfds);
    if (len < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    struct sbx_init_reply m;
    int fd = -1;
    if (len <= 0 || sbxd_initmsg_decode(buf, (size_t)len, fds, nfds, &m, &fd) != 0) {
        close_fds(fds, nfds);
        return -1;
    }
    for (size_t i = 0; i < nfds; i++)
        if (fds[i] != fd) close(fds[i]);
    ch->cb(ch->ctx, &m, fd);
    return 1;
}

static void watch(struct sbxd_initchan *ch)
{
    uv_poll_start(&ch->poll, UV_READABLE | UV_DISCONNECT | (ch->head ? UV_WRITABLE : 0), on_ready);
}

static int send_pending(int fd, const struct pending *q)
{
    if (q->is_start) return sbxd_initmsg_send_start(fd, &q->start, q->fds, q->nfds);
    return sbxd_initmsg_send_signal(fd, &q->sig);
}

/* Sends what waits, in order, as far as the channel takes it. -1: the channel failed. */
static int flush(struct sbxd_initchan *ch)
{
    while (ch->head) {
        if (send_pending(ch->fd, ch->head) != 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        struct pending *q = ch->head;
        if (!(ch->head = q->next)) ch->tail = NULL;
        free_pending(q);
    }
    watch(ch);
    return 0;
}

static void on_ready(uv_poll_t *h, int status, int events)
{
    struct sbxd_initchan *ch = h->data;
    if (status == 0 && (events & UV_WRITABLE) && flush(ch) != 0) status = -1;
    for (int i = 0; i < READS_PER_TURN && !ch->over; i++) {
        int rc = status < 0 ? -1 : read_one(ch);
        if (rc == 0) return;
        if (rc < 0) {
            ch->over = 1;
            uv_poll_stop(&ch->poll);
            ch->cb(ch->ctx, NULL, -1);
            return;
        }
    }
}

struct sbxd_initchan *sbxd_initchan_open(uv_loop_t *loop, int fd, sbxd_initchan_cb cb, void *ctx)
{
    struct sbxd_initchan *ch = calloc(1, sizeof *ch);
    if (!ch || uv_poll_init(loop, &ch->poll, fd) != 0) {
        free(ch);
        close(fd);
        return NULL;
    }
    ch->fd = fd;
    ch->cb = cb;
    ch->ctx = ctx;
    ch->poll.data = ch;
    watch(ch);
    return ch;
}

/* Sends `q` now, or queues a copy of it (with copies of its descriptors, the caller's
 * stay the caller's) behind what already waits. */
static int send_or_queue(struct sbxd_initchan *ch, const struct pending *q)
{
    if (!ch->head && send_pending(ch->fd, q) == 0) return 0;
    if (!ch->head && errno != EAGAIN && errno != EINTR) return -1;
    struct pending *copy = malloc(sizeof *copy);
    if (!copy) return errno = ENOMEM, -1;
    *copy = *q;
    copy->next = NULL;
    for (size_t i = 0; i < q->nfds; i++) {
        if ((copy->fds[i] = fcntl(q->fds[i], F_DUPFD_CLOEXEC, 3)) < 0) {
            copy->nfds = i;
            free_pending(copy);
            return -1;
        }
    }
    if (ch->tail) ch->tail->next = copy;
    else ch->head = copy;
    ch->tail = copy;
    watch(ch);
    return 0;
}

int sbxd_initchan_start(struct sbxd_initchan *ch, const char *cwd, char *const argv[], char *const envp[],
                        const struct sbxd_initchan_who *who, const int *fds, size_t nfds, uint32_t *seq)
{
    if (ch->over) return errno = EPIPE, -1;
    struct sbx_init_start m;
    memset(&m, 0, sizeof m);
    int payload = sbxd_initmsg_payload(cwd, argv, envp, &m);
    if (payload < 0) return -1;
    int all[4] = {payload, -1, -1, -1};
    for (size_t i = 0; i < nfds && i < 3; i++) all[i + 1] = fds[i];
    m.type = SBX_INIT_START;
    m.seq = *seq = ++ch->next_seq;
    m.uid = who->uid;
    m.gid = who->gid;
    m.flags = who->flags;
    m.rows = who->rows;
    m.cols = who->cols;
    struct pending q = {.is_start = 1, .start = m, .nfds = nfds + 1};
    memcpy(q.fds, all, sizeof all);
    int rc = send_or_queue(ch, &q);
    int e = errno;
    close(payload);
    errno = e;
    return rc;
}

int sbxd_initchan_signal(struct sbxd_initchan *ch, pid_t pid, int sig)
{
    if (ch->over) return errno = EPIPE, -1;
    struct pending q = {.sig = {SBX_INIT_SIGNAL, 0, pid, sig}};
    return send_or_queue(ch, &q);
}

int sbxd_initchan_stop_all(struct sbxd_initchan *ch, int stop)
{
    if (ch->over) return errno = EPIPE, -1;
    struct pending q = {.sig = {stop ? SBX_INIT_STOP_ALL : SBX_INIT_CONT_ALL, 0, 0, 0}};
    return send_or_queue(ch, &q);
}
