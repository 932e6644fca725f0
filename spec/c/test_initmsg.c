/* sbxd's side of an init's channel: the decoder (every refusal, the valid messages), the
 * receiver over a real socketpair, the payload memfd and the senders. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "initmsg.h"

static const int some_fds[3] = {100, 101, 102};

static int decode(const struct sbx_init_reply *r, size_t nfds, struct sbx_init_reply *out, int *fd)
{
    return sbxd_initmsg_decode(r, sizeof *r, some_fds, nfds, out, fd);
}

static struct sbx_init_reply reply(uint32_t type, int32_t pid, int32_t status, int32_t step, int32_t err)
{
    return (struct sbx_init_reply){.type = type, .seq = 7, .pid = pid, .status = status, .step = step, .err = err};
}

static void refused(struct sbx_init_reply r, size_t nfds, const char *what)
{
    struct sbx_init_reply out;
    int fd = 5;
    CHECK(decode(&r, nfds, &out, &fd) == -1 && fd == -1, "refused: %s", what);
}

static void accepted(struct sbx_init_reply r, size_t nfds, const char *what)
{
    struct sbx_init_reply out;
    int fd = 5;
    CHECK(decode(&r, nfds, &out, &fd) == 0, "valid: %s", what);
    CHECK(fd == (nfds ? some_fds[0] : -1), "descriptor of %s: %d", what, fd);
}

static void test_valid(void)
{
    accepted(reply(SBX_INIT_READY, 1, 0, 0, 0), 0, "READY");
    accepted(reply(SBX_INIT_STARTED, 42, 0, 0, 0), 0, "STARTED");
    accepted(reply(SBX_INIT_STARTED, 42, 0, 0, 0), 1, "STARTED with a pty master");
    for (int step = SBX_STEP_SETUP; step <= SBX_STEP_PAYLOAD; step++)
        accepted(reply(SBX_INIT_FAILED, 0, 0, step, ENOENT), 0, "FAILED, each step");
    accepted(reply(SBX_INIT_FAILED, 0, 0, SBX_STEP_EXEC, 4095), 0, "FAILED, err 4095");
    int statuses[] = {0, 3 << 8, 255 << 8, SIGKILL, SIGSEGV | 0x80, NSIG - 1};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        int st = statuses[i];
        CHECK(WIFEXITED(st) || WIFSIGNALED(st), "%#x is an end", st);
        accepted(reply(SBX_INIT_EXITED, 42, st, 0, 0), 0, "EXITED");
    }
}

/* Only the type's fields come out; the rest is 0 whatever the init put there. */
static void test_fields_kept(void)
{
    struct sbx_init_reply out, in = {SBX_INIT_STARTED, 9, 42, 77, 3, 4};
    int fd;
    CHECK(decode(&in, 0, &out, &fd) == 0 && out.type == SBX_INIT_STARTED && out.seq == 9 && out.pid == 42 &&
              out.status == 0 && out.step == 0 && out.err == 0, "STARTED: seq and pid only");
    in = (struct sbx_init_reply){SBX_INIT_EXITED, 9, 42, 3 << 8, 3, 4};
    CHECK(decode(&in, 0, &out, &fd) == 0 && out.seq == 0 && out.pid == 42 && out.status == 3 << 8 &&
              out.step == 0 && out.err == 0, "EXITED: pid and status only");
    in = (struct sbx_init_reply){SBX_INIT_FAILED, 9, 42, 5, SBX_STEP_CWD, ENOENT};
    CHECK(decode(&in, 0, &out, &fd) == 0 && out.seq == 9 && out.pid == 0 && out.status == 0 &&
              out.step == SBX_STEP_CWD && out.err == ENOENT, "FAILED: seq, step and err only");
    in = (struct sbx_init_reply){SBX_INIT_READY, 9, 1, 5, 6, 7};
    CHECK(decode(&in, 0, &out, &fd) == 0 && out.seq == 0 && out.pid == 1 && out.status == 0 && out.step == 0 &&
              out.err == 0, "READY: pid only");
    char unaligned[sizeof in + 1];
    memcpy(unaligned + 1, &in, sizeof in);
    CHECK(sbxd_initmsg_decode(unaligned + 1, sizeof in, some_fds, 0, &out, &fd) == 0, "any alignment");
}

static void test_refused_sizes_and_types(void)
{
    struct sbx_init_reply r = reply(SBX_INIT_STARTED, 42, 0, 0, 0), out;
    char longer[sizeof r + 1] = {0};
    memcpy(longer, &r, sizeof r);
    int fd = 5;
    CHECK(sbxd_initmsg_decode(&r, sizeof r - 1, some_fds, 0, &out, &fd) == -1 && fd == -1, "refused: short");
    CHECK(sbxd_initmsg_decode(longer, sizeof longer, some_fds, 0, &out, &fd) == -1, "refused: long");
    CHECK(sbxd_initmsg_decode(&r, 0, some_fds, 0, &out, &fd) == -1, "refused: empty");
    uint32_t types[] = {0, SBX_INIT_START, SBX_INIT_SIGNAL, SBX_INIT_STOP_ALL, SBX_INIT_CONT_ALL, 15, 20, 0xffffffffu};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        refused(reply(types[i], 42, 0, SBX_STEP_EXEC, ENOENT), 0, "not an init->sbxd type");
}

static void test_refused_fields(void)
{
    refused(reply(SBX_INIT_READY, 0, 0, 0, 0), 0, "READY pid 0");
    refused(reply(SBX_INIT_READY, 1, 0, 0, 0), 1, "READY with a descriptor");
    refused(reply(SBX_INIT_STARTED, 0, 0, 0, 0), 0, "STARTED pid 0");
    refused(reply(SBX_INIT_STARTED, -5, 0, 0, 0), 0, "STARTED pid < 0");
    refused(reply(SBX_INIT_STARTED, 42, 0, 0, 0), 2, "STARTED with 2 descriptors");
    refused(reply(SBX_INIT_STARTED, 42, 0, 0, 0), 3, "STARTED with 3 descriptors");
    refused(reply(SBX_INIT_FAILED, 0, 0, 0, ENOENT), 0, "FAILED step 0");
    refused(reply(SBX_INIT_FAILED, 0, 0, SBX_STEP_PAYLOAD + 1, ENOENT), 0, "FAILED unknown step");
    refused(reply(SBX_INIT_FAILED, 0, 0, -1, ENOENT), 0, "FAILED step < 0");
    refused(reply(SBX_INIT_FAILED, 0, 0, SBX_STEP_EXEC, 0), 0, "FAILED err 0");
    refused(reply(SBX_INIT_FAILED, 0, 0, SBX_STEP_EXEC, 4096), 0, "FAILED err 4096");
    refused(reply(SBX_INIT_FAILED, 0, 0, SBX_STEP_EXEC, -2), 0, "FAILED err < 0");
    refused(reply(SBX_INIT_FAILED, 0, 0, SBX_STEP_EXEC, ENOENT), 1, "FAILED with a descriptor");
    refused(reply(SBX_INIT_EXITED, 0, 0, 0, 0), 0, "EXITED pid 0");
    refused(reply(SBX_INIT_EXITED, -1, 0, 0, 0), 0, "EXITED pid < 0");
    refused(reply(SBX_INIT_EXITED, 42, 0, 0, 0), 1, "EXITED with a descriptor");
    int statuses[] = {(SIGSTOP << 8) | 0x7f, 0xffff, -1, 0x10000, 3 << 24, 0x80, (3 << 8) | 0x80, NSIG, 0x7f,
                      (1 << 8) | SIGKILL};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        refused(reply(SBX_INIT_EXITED, 42, statuses[i], 0, 0), 0, "EXITED with no end's status");
}

/* Sends raw bytes with n descriptors (copies of /dev/null). */
static void send_raw(int fd, const void *buf, size_t len, size_t n)
{
    int dn = open("/dev/null", O_RDONLY | O_CLOEXEC), fds[8];
    for (size_t i = 0; i < n; i++) fds[i] = dn;
    if (n == 0) {
        CHECK(send(fd, buf, len, 0) == (ssize_t)len, "raw packet sent");
    } else {
        union {
            struct cmsghdr a;
            char b[CMSG_SPACE(sizeof fds)];
        } ctl = {0};
        struct iovec iov = {(void *)buf, len};
        struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                           .msg_controllen = CMSG_SPACE(n * sizeof(int))};
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
        CHECK(sendmsg(fd, &h, 0) == (ssize_t)len, "raw packet with %zu descriptors sent", n);
    }
    close(dn);
}

/* The lowest free descriptor number: it comes back when a received one is closed. */
static int lowest_free(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fd);
    return fd;
}

static void test_recv(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    char buf[sizeof(struct sbx_init_reply) + 1];
    int fds[SBXD_INITMSG_MAX_FDS];
    size_t nfds = 9;
    errno = 0;
    CHECK(sbxd_initmsg_recv(sv[0], buf, sizeof buf, fds, 1, &nfds) == -1 && errno == EAGAIN && nfds == 0,
          "nothing to read: EAGAIN, not blocking");
    int free_fd = lowest_free();
    struct sbx_init_reply r = reply(SBX_INIT_STARTED, 42, 0, 0, 0);
    send_raw(sv[1], &r, sizeof r, 1);
    ssize_t n = sbxd_initmsg_recv(sv[0], buf, sizeof buf, fds, 1, &nfds);
    CHECK(n == (ssize_t)sizeof r && nfds == 1, "a reply with its descriptor: %zd, %zu", n, nfds);
    CHECK(nfds == 1 && fcntl(fds[0], F_GETFD) == FD_CLOEXEC, "received close-on-exec");
    if (nfds == 1) close(fds[0]);
    send_raw(sv[1], &r, sizeof r, 3);
    errno = 0;
    CHECK(sbxd_initmsg_recv(sv[0], buf, sizeof buf, fds, 1, &nfds) == -1 && errno == EBADMSG && nfds == 0,
          "more descriptors than taken: EBADMSG");
    CHECK(lowest_free() == free_fd, "and all of them closed");
    char big[64] = {0};
    send_raw(sv[1], big, sizeof big, 1);
    errno = 0;
    CHECK(sbxd_initmsg_recv(sv[0], buf, sizeof buf, fds, 1, &nfds) == -1 && errno == EBADMSG && nfds == 0,
          "longer than the buffer: EBADMSG");
    CHECK(lowest_free() == free_fd, "its descriptor closed");
    send_raw(sv[1], big, 0, 1);
    CHECK(sbxd_initmsg_recv(sv[0], buf, sizeof buf, fds, 1, &nfds) == 0 && nfds == 0, "an empty packet: as EOF");
    CHECK(lowest_free() == free_fd, "its descriptor closed");
    close(sv[1]);
    CHECK(sbxd_initmsg_recv(sv[0], buf, sizeof buf, fds, 1, &nfds) == 0, "EOF");
    close(sv[0]);
}

static void test_payload(void)
{
    char *const argv[] = {"/bin/sh", "-c", "echo hi", NULL};
    char *const envp[] = {"A=1", "B=", NULL};
    struct sbx_init_start m = {0};
    int fd = sbxd_initmsg_payload("/home/x", argv, envp, &m);
    static const char want[] = "/home/x\0/bin/sh\0-c\0echo hi\0A=1\0B=";
    CHECK(fd >= 0 && m.argc == 3 && m.envc == 2 && m.payload_len == sizeof want, "counts: %u %u %u", m.argc,
          m.envc, m.payload_len);
    char got[sizeof want + 8];
    CHECK(fd >= 0 && pread(fd, got, sizeof got, 0) == (ssize_t)sizeof want && memcmp(got, want, sizeof want) == 0,
          "the strings, each with its NUL");
    int seals = fcntl(fd, F_GET_SEALS);
    CHECK(seals == (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), "sealed: %#x", seals);
    CHECK(pwrite(fd, "x", 1, 0) == -1 && errno == EPERM, "not writable");
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "close-on-exec");
    close(fd);
}

static void test_send(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    struct sbx_init_start m = {.type = SBX_INIT_START, .seq = 3};
    int fds[5] = {0, 0, 0, 0, 0};
    errno = 0;
    CHECK(sbxd_initmsg_send_start(sv[0], &m, fds, 5) == -1 && errno == EINVAL, "at most 4 descriptors");
    CHECK(sbxd_initmsg_send_start(sv[0], &m, fds, 4) == 0, "a start with 4");
    struct sbx_init_start got;
    char ctl[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = {&got, sizeof got};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(sv[1], &h, MSG_CMSG_CLOEXEC);
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    CHECK(n == (ssize_t)sizeof m && got.seq == 3 && c && c->cmsg_len == CMSG_LEN(4 * sizeof(int)),
          "one packet, four descriptors");
    for (int i = 0; c && i < 4; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
        close(fd);
    }
    struct sbx_init_signal s = {.type = SBX_INIT_SIGNAL, .pid = 5, .sig = SIGTERM};
    CHECK(sbxd_initmsg_send_signal(sv[0], &s) == 0, "a signal");
    struct sbx_init_signal sgot;
    CHECK(recv(sv[1], &sgot, sizeof sgot + 1, 0) == (ssize_t)sizeof s && sgot.pid == 5 && sgot.sig == SIGTERM,
          "one signal packet");
    int sent = 0;
    while (sbxd_initmsg_send_signal(sv[0], &s) == 0 && sent < 1000000) sent++;
    CHECK(errno == EAGAIN && sent > 0, "a full channel: EAGAIN, not blocking (%d sent)", sent);
    close(sv[0]);
    close(sv[1]);
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    close(sv[1]);
    errno = 0;
    CHECK(sbxd_initmsg_send_signal(sv[0], &s) == -1 && errno == EPIPE, "a closed channel: EPIPE, no SIGPIPE");
    close(sv[0]);
}

int main(void)
{
    test_valid();
    test_fields_kept();
    test_refused_sizes_and_types();
    test_refused_fields();
    test_recv();
    test_payload();
    test_send();
    return check_report();
}
