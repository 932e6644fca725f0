#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "initproto.h"
#include "isolate.h"
#include "launch.h"

#define READY_WAIT_MS 10000   /* bwrap mounting on a loaded machine; a sandbox that takes
                                 longer is refused rather than wait without bound */
#define GO_FD 4               /* the child's read end of the go pipe */

struct start_fds {
    int chan[2], go[2], err[2], unshared[2];
};

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void close_all(struct start_fds *f)
{
    int *fds = &f->chan[0];
    for (int i = 0; i < 8; i++) close_fd(&fds[i]);
}

static int open_fds(struct start_fds *f)
{
    memset(f, -1, sizeof *f);
    int on = 1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->chan) || pipe2(f->go, O_CLOEXEC) ||
        pipe2(f->err, O_CLOEXEC) || pipe2(f->unshared, O_CLOEXEC) || setsockopt(f->chan[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on))
        return close_all(f), -1;
    return 0;
}

static void child_fail(const char *what)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "%s: %s\n", what, strerror(errno));
    if (n > 0 && write(2, msg, (size_t)n) < 0) _exit(126);
    _exit(127);
}

/* In the forked child: its descriptors (0 /dev/null, 1 and 2 the error pipe, 3 the
 * channel, GO_FD the go pipe, nothing else), a user namespace when sbxd maps one, then
 * wait for the parent to write its maps, then bwrap with a clean environment. */
static void child(const struct sbxd_bwrap_conf *c, char *const argv[], struct start_fds *f)
{
    static char *const ENV[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    sbxd_launch_child_reset();
    int chan = fcntl(f->chan[1], F_DUPFD, 10), go = fcntl(f->go[0], F_DUPFD, 10);
    int unshared = fcntl(f->unshared[1], F_DUPFD_CLOEXEC, 10);
    int devnull = open("/dev/null", O_RDONLY);
    if (chan < 0 || go < 0 || unshared < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(f->err[1], 1) < 0 ||
        dup2(f->err[1], 2) < 0 || dup2(chan, SBX_INIT_FD) < 0 || dup2(go, GO_FD) < 0 ||
        close_range(GO_FD + 1, (unsigned)unshared - 1, 0) < 0 || close_range((unsigned)unshared + 1, ~0U, 0) < 0)
        child_fail("sbxd: cannot set up the sandbox's descriptors");
    if (!c->single_uid && unshare(CLONE_NEWUSER) != 0) child_fail("sbxd: cannot make a user namespace");
    if (write(unshared, "u", 1) != 1) _exit(125);
    close(unshared);
    char b;
    if (read(GO_FD, &b, 1) != 1) _exit(125); /* sbxd gave up on it */
    close(GO_FD);
    if (!c->single_uid && (setresgid(0, 0, 0) || setresuid(0, 0, 0)))
        child_fail("sbxd: cannot become the sandbox's root");
    execve(c->bwrap, argv, ENV);
    child_fail(c->bwrap);
}

static int write_map(pid_t pid, const char *file)
{
    char path[64], map[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int n = snprintf(map, sizeof map, "0 %ld %ld\n", SBXD_UID_BASE, SBXD_UID_COUNT);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write(fd, map, (size_t)n) == n ? 0 : -1;
    return close(fd) == 0 ? rc : -1;
}

/* The parent's part while the child waits: its maps, its cgroups, then go. */
static int release_child(const struct sbxd_bwrap_conf *c, pid_t pid, sbxd_isolate_join join, void *ctx,
                         struct start_fds *f, char *why, size_t whylen)
{
    char b;
    ssize_t n;
    do n = read(f->unshared[0], &b, 1); /* its namespace exists: its maps can be written */
    while (n < 0 && errno == EINTR);
    if (n != 1) return snprintf(why, whylen, "cannot make the sandbox's user namespace"), -1;
    if (!c->single_uid && (write_map(pid, "uid_map") || write_map(pid, "gid_map")))
        return snprintf(why, whylen, "cannot map the sandbox's users: %s", strerror(errno)), -1;
    if (join && join(ctx, pid)) return snprintf(why, whylen, "cannot put the sandbox in its cgroups: %s",
                                                strerror(errno)), -1;
    if (write(f->go[1], "g", 1) != 1) return snprintf(why, whylen, "cannot start bwrap: %s", strerror(errno)), -1;
    return 0;
}

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* What bwrap or the init said on stderr: its first line, as the reason. */
static void reason_from(const char *text, char *why, size_t whylen)
{
    size_t n = strcspn(text, "\n");
    if (n == 0) snprintf(why, whylen, "the sandbox's init exited before it was ready");
    else snprintf(why, whylen, "%.*s", (int)n, text);
}

/* The init's first message, READY, read with the sender's credentials (SO_PASSCRED):
 * the kernel gives its pid as sbxd sees it, the host pid of the sandbox's PID 1, opened
 * as a pidfd (killing through it cannot hit a process that reused the number). Nothing
 * but the init has run in the sandbox yet, so the credentials are the init's own.
 * 0: READY came; 1: nothing yet; -2: the channel closed; -1: something else came. */
static int read_ready(int chan, int *pidfd)
{
    struct sbx_init_reply m;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {&m, sizeof m};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(chan, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 1 : -2;
    if (n == 0) return -2;
    pid_t pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            pid = cred.pid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int fds[4];
            memcpy(fds, CMSG_DATA(c), k * sizeof(int));
            for (size_t i = 0; i < k; i++) close(fds[i]);
            return -1;
        }
    }
    if ((size_t)n != sizeof m || m.type != SBX_INIT_READY || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || pid <= 0)
        return -1;
    int off = 0;
    setsockopt(chan, SOL_SOCKET, SO_PASSCRED, &off, sizeof off);
    *pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return *pidfd < 0 ? -1 : 0;
}

/* 0 once the init's READY came (*pidfd set); -1 with why set when the channel closed
 * (the error pipe's text says why), the init said something else first, or the wait ran
 * out. */
static int wait_ready(struct start_fds *f, int *pidfd, char *why, size_t whylen)
{
    char text[512] = "";
    size_t tlen = 0;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += READY_WAIT_MS / 1000;
    for (;;) {
        long left = ms_left(&deadline);
        if (left <= 0) return snprintf(why, whylen, "the sandbox did not start within %d s", READY_WAIT_MS / 1000), -1;
        struct pollfd p[2] = {{f->chan[0], POLLIN, 0}, {f->err[0], POLLIN, 0}};
        int n = poll(p, f->err[0] >= 0 ? 2 : 1, (int)left);
        if (n < 0 && errno != EINTR) return snprintf(why, whylen, "poll: %s", strerror(errno)), -1;
        if (n > 0 && p[1].revents && f->err[0] >= 0) {
            ssize_t r = read(f->err[0], text + tlen, sizeof text - 1 - tlen);
            if (r <= 0) close_fd(&f->err[0]);
            else text[tlen += (size_t)r] = '\0';
            if (tlen == sizeof text - 1) close_fd(&f->err[0]);
        }
        if (n > 0 && p[0].revents) {
            int rc = read_ready(f->chan[0], pidfd);
            if (rc == 0) return 0;
            if (rc == 1) continue;
            if (rc == -2) {   /* the channel closed: the rest of the error text says why */
                while (f->err[0] >= 0 && tlen < sizeof text - 1) {
                    ssize_t r = read(f->err[0], text + tlen, sizeof text - 1 - tlen);
                    if (r <= 0) break;
                    text[tlen += (size_t)r] = '\0';
                }
                return reason_from(text, why, whylen), -1;
            }
            return snprintf(why, whylen, "the sandbox's init did not start properly"), -1;
        }
    }
}

int sbxd_isolate_start(const struct sbxd_bwrap_conf *c, sbxd_isolate_join join, void *ctx,
                       struct sbxd_isolated *out, char *why, size_t whylen)
{
    struct sbxd_argv argv;
    struct start_fds f;
    if (sbxd_bwrap_argv(c, &argv)) return snprintf(why, whylen, "a path of the sandbox is too long"), -1;
    if (open_fds(&f)) return snprintf(why, whylen, "cannot start the sandbox: %s", strerror(errno)), -1;
    pid_t pid = fork();
    if (pid == 0) child(c, argv.v, &f);
    if (pid < 0) {
        close_all(&f);
        return snprintf(why, whylen, "cannot start the sandbox: fork: %s", strerror(errno)), -1;
    }
    close_fd(&f.chan[1]);
    close_fd(&f.go[0]);
    close_fd(&f.err[1]);
    close_fd(&f.unshared[1]);
    int rc = release_child(c, pid, join, ctx, &f, why, whylen);
    close_fd(&f.go[1]); /* EOF makes a child that was not released exit */
    int pidfd = -1;
    if (rc == 0) rc = wait_ready(&f, &pidfd, why, whylen);
    if (rc != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close_all(&f);
        return -1;
    }
    close_fd(&f.err[0]);
    close_fd(&f.unshared[0]);
    out->bwrap = pid;
    out->chan = f.chan[0];
    out->init = pidfd;
    return 0;
}

void sbxd_isolate_kill(const struct sbxd_isolated *iso)
{
    if (iso->init >= 0) syscall(SYS_pidfd_send_signal, iso->init, SIGKILL, NULL, 0);
    if (iso->bwrap > 0) kill(iso->bwrap, SIGKILL);
}

int sbxd_isolate_wait_gone(int init, int ms)
{
    struct pollfd p = {init, POLLIN, 0};
    int n;
    do n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : -1;
}
