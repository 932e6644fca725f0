/* sbx-init as a plain child of this test (no namespaces: bwrap is not needed to check
 * what the init itself does), its channel a socketpair on fd 3, driven with sbxd's own
 * sender and decoder (initmsg.h). The binary is the sbx-init beside $SBX_SBXD (the build
 * in use), else build/sbx-init. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "initmsg.h"

#define WAIT_MS 10000 /* bounds every wait: only proves "did not hang" */

static char init_path[4096];

static void find_init(void)
{
    const char *sbxd = getenv("SBX_SBXD");
    if (!sbxd) {
        snprintf(init_path, sizeof init_path, "build/sbx-init");
        return;
    }
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", sbxd);
    snprintf(init_path, sizeof init_path, "%s/sbx-init", dirname(copy));
}

struct init {
    pid_t pid;
    int chan;
};

/* Starts sbx-init with `chan_fd` on its fd 3 and argv[1] "3"; its stderr on `err_fd`
 * (-1: this test's). */
static pid_t exec_init(int chan_fd, int err_fd)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (err_fd >= 0 && dup2(err_fd, 2) < 0) _exit(126);
    if (chan_fd == 3) fcntl(3, F_SETFD, 0);
    else if (dup2(chan_fd, 3) < 0) _exit(126);
    execl(init_path, "sbx-init", "3", (char *)NULL);
    _exit(127);
}

static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, WAIT_MS) == 1 ? 0 : -1;
}

/* The next reply, decoded (fd: STARTED's descriptor or -1); -1 when none came in time
 * or it was refused. */
static int next_reply(int chan, struct sbx_init_reply *r, int *fd)
{
    char buf[sizeof *r + 8];
    int fds[SBXD_INITMSG_MAX_FDS];
    size_t nfds;
    *fd = -1;
    if (wait_readable(chan) != 0) return -1;
    ssize_t n = sbxd_initmsg_recv(chan, buf, sizeof buf, fds, SBXD_INITMSG_MAX_FDS, &nfds);
    if (n <= 0) return -1;
    if (sbxd_initmsg_decode(buf, (size_t)n, fds, nfds, r, fd) == 0) return 0;
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    return -1;
}

static int init_start(struct init *in)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    in->pid = exec_init(sv[1], -1);
    close(sv[1]);
    in->chan = sv[0];
    struct sbx_init_reply r;
    int fd;
    int ok = in->pid > 0 && next_reply(in->chan, &r, &fd) == 0 && r.type == SBX_INIT_READY;
    CHECK(ok, "READY arrives first");
    CHECK(!ok || r.pid == in->pid, "READY has the init's pid %d, got %d", (int)in->pid, (int)r.pid);
    return ok ? 0 : -1;
}

/* The init's exit status after its channel closed; -1 when it did not exit in time. */
static int init_stop(struct init *in)
{
    close(in->chan);
    for (int i = 0; i < WAIT_MS / 10; i++) {
        int st;
        if (waitpid(in->pid, &st, WNOHANG) == in->pid) return st;
        usleep(10000);
    }
    kill(in->pid, SIGKILL);
    waitpid(in->pid, NULL, 0);
    return -1;
}

/* A command's pipes: the ends this test keeps. */
struct cmd {
    int in, out, err, master;
    pid_t pid;
};

/* Sends a start: the payload and, without a pty, the pipes' far ends. */
static int send_cmd(int chan, uint32_t seq, uint32_t flags, const char *cwd, char *const argv[], struct cmd *c)
{
    static char *const envp[] = {"PATH=/usr/bin:/bin", "LANG=C", NULL};
    struct sbx_init_start m = {.type = SBX_INIT_START, .seq = seq, .uid = getuid(), .gid = getgid(),
                               .flags = flags, .rows = 24, .cols = 80};
    int fds[4], n = 0, in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    fds[n++] = sbxd_initmsg_payload(cwd, argv, envp, &m);
    if (!(flags & SBX_START_PTY)) {
        if ((flags & SBX_START_STDIN) && pipe2(in, O_CLOEXEC) == 0) fds[n++] = in[0];
        if (pipe2(out, O_CLOEXEC) == 0) fds[n++] = out[1];
        if (pipe2(err, O_CLOEXEC) == 0) fds[n++] = err[1];
    }
    int rc = fds[0] >= 0 ? sbxd_initmsg_send_start(chan, &m, fds, (size_t)n) : -1;
    for (int i = 0; i < n; i++) close(fds[i]);
    *c = (struct cmd){.in = in[1], .out = out[0], .err = err[0], .master = -1};
    return rc;
}

static void cmd_close(struct cmd *c)
{
    int *fds[] = {&c->in, &c->out, &c->err, &c->master};
    for (size_t i = 0; i < 4; i++)
        if (*fds[i] >= 0) close(*fds[i]), *fds[i] = -1;
}

/* Everything until EOF (or EIO: a pty whose slave is closed everywhere), NUL-terminated. */
static size_t read_to_end(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap && wait_readable(fd) == 0) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* STARTED for seq, the command's pid into c (and its pty master). */
static int expect_started(int chan, uint32_t seq, struct cmd *c)
{
    struct sbx_init_reply r;
    int ok = next_reply(chan, &r, &c->master) == 0 && r.type == SBX_INIT_STARTED && r.seq == seq;
    CHECK(ok, "STARTED for seq %u (type %u, step %d, err %d)", seq, r.type, r.step, r.err);
    c->pid = ok ? r.pid : -1;
    return ok ? 0 : -1;
}

/* EXITED for pid: its wait status, or -1. */
static int expect_exited(int chan, pid_t pid)
{
    struct sbx_init_reply r;
    int ok = next_reply(chan, &r, &(int){-1}) == 0 && r.type == SBX_INIT_EXITED && r.pid == pid;
    CHECK(ok, "EXITED for pid %d (type %u, pid %d)", (int)pid, r.type, (int)r.pid);
    return ok ? r.status : -1;
}

static void expect_failed(int chan, uint32_t seq, int step, int err)
{
    struct sbx_init_reply r;
    int ok = next_reply(chan, &r, &(int){-1}) == 0 && r.type == SBX_INIT_FAILED;
    CHECK(ok && r.seq == seq && r.step == step && r.err == err, "FAILED seq %u step %d err %d: got type %u seq %u step %d err %d",
          seq, step, err, r.type, r.seq, r.step, r.err);
}

static void test_pipes_and_exit_status(int chan)
{
    char *const argv[] = {"/bin/sh", "-c", "echo hi; echo err >&2; exit 3", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 1, 0, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 1, &c) == 0) {
        char out[64], err[64];
        read_to_end(c.out, out, sizeof out);
        read_to_end(c.err, err, sizeof err);
        CHECK(strcmp(out, "hi\n") == 0, "stdout: '%s'", out);
        CHECK(strcmp(err, "err\n") == 0, "stderr: '%s'", err);
        int st = expect_exited(chan, c.pid);
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "exit status 3: %#x", st);
    }
    cmd_close(&c);
}

static void test_stdin(int chan)
{
    char *const argv[] = {"/bin/cat", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 2, SBX_START_STDIN, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 2, &c) == 0) {
        CHECK(write(c.in, "to cat\n", 7) == 7, "stdin written");
        close(c.in), c.in = -1;
        char out[64];
        read_to_end(c.out, out, sizeof out);
        CHECK(strcmp(out, "to cat\n") == 0, "cat echoes its stdin: '%s'", out);
        int st = expect_exited(chan, c.pid);
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "cat exits 0: %#x", st);
    }
    cmd_close(&c);
}

/* Without SBX_START_STDIN the command reads /dev/null: at once EOF. */
static void test_no_stdin(int chan)
{
    char *const argv[] = {"/bin/sh", "-c", "wc -c", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 3, 0, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 3, &c) == 0) {
        char out[64];
        read_to_end(c.out, out, sizeof out);
        CHECK(strcmp(out, "0\n") == 0, "an empty stdin: '%s'", out);
        expect_exited(chan, c.pid);
    }
    cmd_close(&c);
}

static void test_start_failures(int chan)
{
    struct cmd c;
    char *const sh[] = {"/bin/sh", "-c", "exit 0", NULL};
    CHECK(send_cmd(chan, 4, 0, "/nonexistent-dir", sh, &c) == 0, "start sent");
    expect_failed(chan, 4, SBX_STEP_CWD, ENOENT);
    cmd_close(&c);
    char *const missing[] = {"/nonexistent-dir/prog", NULL};
    CHECK(send_cmd(chan, 5, 0, "/", missing, &c) == 0, "start sent");
    expect_failed(chan, 5, SBX_STEP_EXEC, ENOENT);
    cmd_close(&c);
}

static void test_signal(int chan)
{
    char *const argv[] = {"/bin/sleep", "100", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 6, 0, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 6, &c) == 0) {
        struct sbx_init_signal s = {.type = SBX_INIT_SIGNAL, .pid = c.pid, .sig = SIGTERM};
        CHECK(sbxd_initmsg_send_signal(chan, &s) == 0, "signal sent");
        int st = expect_exited(chan, c.pid);
        CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "killed by SIGTERM: %#x", st);
    }
    cmd_close(&c);
}

/* The background process was left to this test (a subreaper); it must end by SIGKILL. */
static void expect_killed(pid_t bg)
{
    int st = -1;
    for (int i = 0; i < WAIT_MS / 10; i++) {
        if (waitpid(bg, &st, WNOHANG) == bg) break;
        st = -1;
        usleep(10000);
    }
    CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the background sleep was killed: %#x", st);
    CHECK(kill(bg, 0) != 0 && errno == ESRCH, "the background sleep %d is gone", (int)bg);
}

/* What is left of a command's process group dies when the command ends. */
static void test_group_killed(int chan)
{
    char *const argv[] = {"/bin/sh", "-c", "sleep 100 & echo $!; exit 0", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 7, 0, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 7, &c) == 0) {
        int st = expect_exited(chan, c.pid);
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "sh exits 0: %#x", st);
        char out[64];
        read_to_end(c.out, out, sizeof out); /* EOF: the sleep held stdout until it died */
        pid_t bg = (pid_t)atoi(out);
        CHECK(bg > 0, "the background pid: '%s'", out);
        if (bg > 0) expect_killed(bg);
    }
    cmd_close(&c);
}

/* Only 0, 1 and 2 (and ls's own directory, 3): nothing of the init's, nor of what the
 * init inherited from this test without close-on-exec. */
static void test_only_std_fds(int chan)
{
    char *const argv[] = {"/bin/ls", "-1", "/proc/self/fd", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 8, 0, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 8, &c) == 0) {
        char out[256];
        read_to_end(c.out, out, sizeof out);
        CHECK(strcmp(out, "0\n1\n2\n3\n") == 0, "the command's descriptors: '%s'", out);
        expect_exited(chan, c.pid);
    }
    cmd_close(&c);
}

static int count_fds(pid_t pid)
{
    char cmd[128], out[32];
    snprintf(cmd, sizeof cmd, "ls /proc/%d/fd | wc -l", (int)pid);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int n = fgets(out, sizeof out, p) ? atoi(out) : -1;
    pclose(p);
    return n;
}

/* A packet with one descriptor, of any size: a fault sbxd's senders cannot make. */
static int send_with_fd(int chan, const void *buf, size_t len, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl = {0};
    struct iovec iov = {(void *)buf, len};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof fd);
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(chan, &h, 0) == (ssize_t)len ? 0 : -1;
}

/* Raw packets no sbxd would send: each is ignored, its descriptors closed. */
static void send_malformed(int chan)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct sbx_init_signal sig = {.type = SBX_INIT_SIGNAL, .pid = 1, .sig = 0};
    struct sbx_init_signal unknown = {.type = 99};
    struct sbx_init_reply reply = {.type = SBX_INIT_READY};
    char big[256] = {0};
    CHECK(send(chan, "junk", 4, 0) == 4, "short packet");
    CHECK(send(chan, big, sizeof big, 0) == (ssize_t)sizeof big, "long packet");
    CHECK(send(chan, &unknown, sizeof unknown, 0) == (ssize_t)sizeof unknown, "unknown type");
    CHECK(send(chan, &reply, sizeof reply, 0) == (ssize_t)sizeof reply, "a reply type");
    CHECK(send_with_fd(chan, &sig, sizeof sig, devnull) == 0, "a signal with a descriptor");
    CHECK(send_with_fd(chan, "junk", 4, devnull) == 0, "a short packet with a descriptor");
    CHECK(send_with_fd(chan, big, sizeof big, devnull) == 0, "a long packet with a descriptor");
    close(devnull);
}

/* A start whose descriptors or payload do not match: FAILED, SBX_STEP_PAYLOAD. */
static void send_bad_starts(int chan)
{
    char *const argv[] = {"/bin/true", NULL};
    static char *const envp[] = {NULL};
    struct sbx_init_start m = {.type = SBX_INIT_START, .seq = 10, .uid = getuid(), .gid = getgid()};
    int payload = sbxd_initmsg_payload("/", argv, envp, &m);
    CHECK(sbxd_initmsg_send_start(chan, &m, &payload, 1) == 0, "a start without its pipes");
    expect_failed(chan, 10, SBX_STEP_PAYLOAD, EINVAL);
    int fds[3] = {payload, payload, payload};
    m.seq = 11, m.argc = 2;
    CHECK(sbxd_initmsg_send_start(chan, &m, fds, 3) == 0, "a start with a wrong argc");
    expect_failed(chan, 11, SBX_STEP_PAYLOAD, EINVAL);
    m.seq = 12, m.argc = 1, m.payload_len++;
    CHECK(sbxd_initmsg_send_start(chan, &m, fds, 3) == 0, "a start with a wrong length");
    expect_failed(chan, 12, SBX_STEP_PAYLOAD, EINVAL);
    close(payload);
}

static void test_malformed_ignored(struct init *in)
{
    int before = count_fds(in->pid);
    send_malformed(in->chan);
    send_bad_starts(in->chan);
    test_pipes_and_exit_status(in->chan); /* still serving */
    CHECK(before > 0 && count_fds(in->pid) == before, "the init holds %d descriptors, as before (%d)",
          count_fds(in->pid), before);
}

static int pty_usable(void)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

static void test_pty(int chan)
{
    if (!pty_usable()) {
        printf("skipped: the pty test (/dev/ptmx cannot be opened)\n");
        return;
    }
    char *const argv[] = {"/bin/sh", "-c", "tty; stty size", NULL};
    struct cmd c;
    CHECK(send_cmd(chan, 13, SBX_START_PTY, "/", argv, &c) == 0, "start sent");
    if (expect_started(chan, 13, &c) == 0) {
        CHECK(c.master >= 0, "the pty master came with STARTED");
        char out[256] = "";
        if (c.master >= 0) read_to_end(c.master, out, sizeof out);
        CHECK(strncmp(out, "/dev/pts/", 9) == 0, "tty names a pty: '%s'", out);
        CHECK(strstr(out, "\r\n24 80\r\n") != NULL, "the size set: '%s'", out);
        int st = expect_exited(chan, c.pid);
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "tty exits 0: %#x", st);
    }
    cmd_close(&c);
}

/* A descriptor that is no SOCK_SEQPACKET socket: exit 2, saying why. */
static void test_bad_channel(void)
{
    int p[2], err[2];
    if (pipe2(p, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
    pid_t pid = exec_init(p[0], err[1]);
    close(err[1]);
    char msg[256];
    read_to_end(err[0], msg, sizeof msg);
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "a pipe as the channel: exit 2, got %#x", st);
    CHECK(strcmp(msg, "sbx-init: FD is not a SOCK_SEQPACKET socket\n") == 0, "its message: '%s'", msg);
    close(p[0]), close(p[1]), close(err[0]);
}

int main(void)
{
    find_init();
    /* Orphans of the commands come to this test, to be waited for. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    struct init in;
    if (init_start(&in) != 0) return check_report();
    test_pipes_and_exit_status(in.chan);
    test_stdin(in.chan);
    test_no_stdin(in.chan);
    test_start_failures(in.chan);
    test_signal(in.chan);
    test_group_killed(in.chan);
    test_only_std_fds(in.chan);
    test_malformed_ignored(&in);
    test_pty(in.chan);
    int st = init_stop(&in);
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the init exits 0 at the channel's end: %#x", st);
    test_bad_channel();
    return check_report();
}
