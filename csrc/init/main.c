/* sbx-init FD [NPROC]: PID 1 of a sandbox, serving sbxd on the channel FD (SBX_INIT_FD).
 * NPROC, when given, is its RLIMIT_NPROC, which every command inherits: set here, inside
 * the sandbox's user namespace, it counts each uid's processes of this sandbox alone. It
 * exits 0 when the channel ends or breaks (the namespace dies with it), 2 when it cannot
 * start. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "init.h"

static int fail(const char *what)
{
    fprintf(stderr, "sbx-init: %s\n", what);
    return -1;
}

/* argv[1]: the channel, a SOCK_SEQPACKET socket. */
static int channel_fd(int argc, char **argv)
{
    char *end;
    if (argc != 2 && argc != 3) return fail("usage: sbx-init FD [NPROC]");
    errno = 0;
    long fd = strtol(argv[1], &end, 10);
    if (errno || end == argv[1] || *end || fd < 0 || fd > 65535) return fail("FD is not a descriptor number");
    int type;
    socklen_t len = sizeof type;
    if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
        return fail("FD is not a SOCK_SEQPACKET socket");
    /* Blocking replies (chan.c); receiving never blocks. */
    int fl = fcntl((int)fd, F_GETFL);
    if (fl < 0 || fcntl((int)fd, F_SETFL, fl & ~O_NONBLOCK) != 0) return fail("cannot use FD");
    return (int)fd;
}

/* argv[2], when given: the most processes each uid of the sandbox may have. */
static int bound_processes(int argc, char **argv)
{
    if (argc < 3) return 0;
    char *end;
    errno = 0;
    long n = strtol(argv[2], &end, 10);
    if (errno || end == argv[2] || *end || n <= 0) return fail("NPROC is not a positive number");
    /* Never above the hard limit it was given: raising that takes a capability on the
     * host, which no sandbox has. A larger bound is the cgroup's to hold. */
    struct rlimit lim;
    if (getrlimit(RLIMIT_NPROC, &lim) != 0) return fail("cannot read RLIMIT_NPROC");
    if (lim.rlim_max == RLIM_INFINITY || (rlim_t)n < lim.rlim_max) lim.rlim_max = (rlim_t)n;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NPROC, &lim) != 0) return fail("cannot set RLIMIT_NPROC");
    return 0;
}

/* 0, 1 and 2 are open (on /dev/null if need be), so no descriptor received is one of
 * them: the child's dup2 of a pipe onto 0, 1 or 2 never overwrites another one. */
static int std_fds_open(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) continue;
        int n = open("/dev/null", O_RDWR);
        if (n == fd) continue;
        if (n >= 0) close(n);
        return -1;
    }
    return 0;
}

/* Default dispositions for all (an inherited SIG_IGN would survive into every command's
 * exec) and SIGCHLD blocked, to be read from a signalfd. As PID 1 of its namespace the
 * init gets no signal from inside it that it has no handler for. */
static int signals_fd(void)
{
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL); /* glibc's own ones refuse: fine */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) return -1;
    return signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Not dumpable (nothing in the sandbox may ptrace or read it), killed with its parent. */
static int guard_process(void)
{
    pid_t parent = getppid();
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail("prctl failed");
    /* The parent died before the death signal was armed. (In a pid namespace getppid()
     * reads 0 throughout: there the channel's EOF tells it.) */
    if (getppid() != parent) return -1;
    return 0;
}

static void drain(int sigfd)
{
    struct signalfd_siginfo si[8];
    while (read(sigfd, si, sizeof si) > 0) continue;
}

/* Until the channel ends or breaks. */
static void serve_loop(int chan, int sigfd)
{
    struct pollfd p[2] = {{.fd = chan, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    struct chan_msg m;
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) {
            drain(sigfd);
            if (reap_children(chan) != 0) return;
        }
        if (!p[0].revents) continue;
        ssize_t n = chan_recv(chan, &m);
        if (n < 0 && errno == EAGAIN) continue;
        if (n <= 0 || serve(chan, &m) != 0) return;
    }
}

int main(int argc, char **argv)
{
    if (guard_process() != 0) return 2;
    int chan = channel_fd(argc, argv);
    if (chan < 0 || bound_processes(argc, argv) != 0) return 2;
    if (std_fds_open() != 0) return fail("cannot open /dev/null"), 2;
    int sigfd = signals_fd();
    if (sigfd < 0) return fail("cannot watch SIGCHLD"), 2;
    struct sbx_init_reply ready = {.type = SBX_INIT_READY, .pid = getpid()};
    if (chan_send(chan, &ready, -1) == 0) serve_loop(chan, sigfd);
    children_free();
    close(sigfd);
    return 0;
}
