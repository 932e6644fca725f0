/* What sbxd sends a sandbox's init (initmsg.h): a command's payload, a start, a signal. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "initmsg.h"

/* The strings one after the other, each with its NUL; NULL when out of memory. */
static char *join(const char *cwd, char *const argv[], char *const envp[], size_t len)
{
    char *buf = malloc(len), *p = buf;
    if (!buf) return NULL;
    p = stpcpy(p, cwd) + 1;
    for (char *const *a = argv; *a; a++) p = stpcpy(p, *a) + 1;
    for (char *const *e = envp; *e; e++) p = stpcpy(p, *e) + 1;
    return buf;
}

/* The payload's size, and its counts into m; E2BIG past what the message can say. */
static int measure(const char *cwd, char *const argv[], char *const envp[], struct sbx_init_start *m,
                   size_t *len)
{
    uint64_t total = strlen(cwd) + 1, argc = 0, envc = 0;
    for (char *const *a = argv; *a; a++, argc++) total += strlen(*a) + 1;
    for (char *const *e = envp; *e; e++, envc++) total += strlen(*e) + 1;
    if (total > UINT32_MAX) return errno = E2BIG, -1;
    m->argc = (uint32_t)argc, m->envc = (uint32_t)envc, m->payload_len = (uint32_t)total;
    *len = (size_t)total;
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        buf += n, len -= (size_t)n;
    }
    return 0;
}

/* Sealed: neither sbxd nor anyone holding it can change it once the init may read it. */
#define PAYLOAD_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

int sbxd_initmsg_payload(const char *cwd, char *const argv[], char *const envp[], struct sbx_init_start *m)
{
    size_t len;
    if (measure(cwd, argv, envp, m, &len) != 0) return -1;
    char *bytes = join(cwd, argv, envp, len);
    if (!bytes) return errno = ENOMEM, -1;
    int fd = memfd_create("sbx-cmd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int ok = fd >= 0 && write_all(fd, bytes, len) == 0 && fcntl(fd, F_ADD_SEALS, PAYLOAD_SEALS) == 0;
    int err = errno;
    free(bytes);
    if (ok) return fd;
    if (fd >= 0) close(fd);
    errno = err;
    return -1;
}

/* Descriptors a start carries at most: payload, stdin, stdout, stderr. */
#define SEND_MAX_FDS 4

/* One packet, with nfds descriptors as SCM_RIGHTS. */
static int send_packet(int chan, const void *msg, size_t len, const int *fds, size_t nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(SEND_MAX_FDS * sizeof(int))];
    } ctl;
    if (nfds > SEND_MAX_FDS) return errno = EINVAL, -1;
    struct iovec iov = {(void *)msg, len};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&ctl, 0, sizeof ctl);
        h.msg_control = ctl.buf;
        h.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    ssize_t n;
    do n = sendmsg(chan, &h, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    return (size_t)n == len ? 0 : (errno = EMSGSIZE, -1);
}

int sbxd_initmsg_send_start(int chan, const struct sbx_init_start *m, const int *fds, size_t nfds)
{
    return send_packet(chan, m, sizeof *m, fds, nfds);
}

int sbxd_initmsg_send_signal(int chan, const struct sbx_init_signal *m)
{
    return send_packet(chan, m, sizeof *m, NULL, 0);
}
