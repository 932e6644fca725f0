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
#include "initmsg.h"
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
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->chan) || pipe2(f->go, O_CLOEXEC) ||
        pipe2(f->err, O_CLOEXEC) || pipe2(f->unshared, O_CLOEXEC))
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

int sbxd_isolate_open_init(pid_t bwrap)
{
    char path[64], list[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)bwrap, (int)bwrap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, list, sizeof list - 1);
    close(fd);
    if (n <= 0) return -1;
    list[n] = '\0';
    long pid = strtol(list, NULL, 10);
    return pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1;
}

/* The init's first message, READY, then a pidfd of the init (bwrap's one child: with a
 * pid namespace bwrap forks the sandbox's PID 1 and nothing else). Killing through the
 * pidfd cannot hit a process that reused the number.
 * 0: READY came; 1: nothing yet; -2: the channel closed; -1: something else came. */
static int read_ready(int chan, pid_t bwrap, int *pidfd)
{
    unsigned char buf[sizeof(struct sbx_init_reply) + 1];
    int fds[SBXD_INITMSG_MAX_FDS], fd = -1;
    size_t nfds = 0;
    struct sbx_init_reply m;
    ssize_t n = sbxd_initmsg_recv(chan, buf, sizeof buf, fds, SBXD_INITMSG_MAX_FDS, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
    if (n <= 0) return -2;
    int ok = sbxd_initmsg_decode(buf, (size_t)n, fds, nfds, &m, &fd) == 0 && m.type == SBX_INIT_READY;
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    if (!ok) return -1;
    *pidfd = sbxd_isolate_open_init(bwrap);
    return *pidfd < 0 ? -1 : 0;
}

/* 0 once the init's READY came (*pidfd set); -1 with why set when the channel closed
 * (what bwrap said on its error pipe says why), the init said something else first, or
 * the wait ran out. */
static int wait_ready(struct start_fds *f, pid_t bwrap, int *pidfd, char *why, size_t whylen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += READY_WAIT_MS / 1000;
    for (;;) {
        long left = ms_left(&deadline);
        if (left <= 0) return snprintf(why, whylen, "the sandbox did not start within %d s", READY_WAIT_MS / 1000), -1;
        struct pollfd p = {f->chan[0], POLLIN, 0};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR) return snprintf(why, whylen, "poll: %s", strerror(errno)), -1;
        if (n <= 0) continue;
        int rc = read_ready(f->chan[0], bwrap, pidfd);
        if (rc == 0) return 0;
        if (rc == -2) return sbxd_isolate_failure(f->err[0], why, whylen), -1;
        if (rc == -1) return snprintf(why, whylen, "the sandbox's init did not start properly"), -1;
    }
}

/* A child that will not become a sandbox: killed, reaped, its descriptors closed. */
static void abandon(pid_t pid, struct start_fds *f)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close_all(f);
}

/* bwrap forked and released: the user namespace mapped, the cgroups joined. */
static int spawn(const struct sbxd_bwrap_conf *c, sbxd_isolate_join join, void *ctx, struct start_fds *f,
                 pid_t *bwrap, char *why, size_t whylen)
{
    struct sbxd_argv argv;
    if (sbxd_bwrap_argv(c, &argv)) return snprintf(why, whylen, "a path of the sandbox is too long"), -1;
    if (open_fds(f)) return snprintf(why, whylen, "cannot start the sandbox: %s", strerror(errno)), -1;
    pid_t pid = fork();
    if (pid == 0) child(c, argv.v, f);
    if (pid < 0) {
        close_all(f);
        return snprintf(why, whylen, "cannot start the sandbox: fork: %s", strerror(errno)), -1;
    }
    close_fd(&f->chan[1]);
    close_fd(&f->go[0]);
    close_fd(&f->err[1]);
    close_fd(&f->unshared[1]);
    int rc = release_child(c, pid, join, ctx, f, why, whylen);
    close_fd(&f->go[1]); /* EOF makes a child that was not released exit */
    close_fd(&f->unshared[0]);
    if (rc != 0) return abandon(pid, f), -1;
    fcntl(f->err[0], F_SETFL, O_NONBLOCK); /* read once bwrap failed: never waits */
    *bwrap = pid;
    return 0;
}

int sbxd_isolate_spawn(const struct sbxd_bwrap_conf *c, sbxd_isolate_join join, void *ctx,
                       struct sbxd_isolated *out, char *why, size_t whylen)
{
    struct start_fds f;
    if (spawn(c, join, ctx, &f, &out->bwrap, why, whylen)) return -1;
    out->chan = f.chan[0];
    out->err = f.err[0];
    out->init = -1;
    return 0;
}

int sbxd_isolate_start(const struct sbxd_bwrap_conf *c, sbxd_isolate_join join, void *ctx,
                       struct sbxd_isolated *out, char *why, size_t whylen)
{
    struct start_fds f;
    pid_t pid;
    if (spawn(c, join, ctx, &f, &pid, why, whylen)) return -1;
    int pidfd = -1;
    if (wait_ready(&f, pid, &pidfd, why, whylen) != 0) return abandon(pid, &f), -1;
    close_fd(&f.err[0]);
    out->bwrap = pid;
    out->chan = f.chan[0];
    out->init = pidfd;
    out->err = -1;
    return 0;
}

void sbxd_isolate_failure(int err, char *why, size_t whylen)
{
    char text[512];
    ssize_t n = err >= 0 ? read(err, text, sizeof text - 1) : -1;
    text[n > 0 ? n : 0] = '\0';
    size_t first = strcspn(text, "\n"); /* bwrap's or the init's first line is the reason */
    if (first == 0) snprintf(why, whylen, "the sandbox's init exited before it was ready");
    else snprintf(why, whylen, "%.*s", (int)first, text);
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
