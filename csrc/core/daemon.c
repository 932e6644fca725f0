#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *path, char *const argv[], int parent_rd, int ready_wr)
{
    setsid(); /* a terminal's ^C must not kill sbxd before it can clean up */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    int a = fcntl(parent_rd, F_DUPFD_CLOEXEC, 10), b = fcntl(ready_wr, F_DUPFD_CLOEXEC, 10);
    if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0) _exit(127);
    close_range(5, ~0U, 0);
    execv(path, argv);
    _exit(127);
}

static char **build_argv(const char *path, const char *const *args, size_t nargs)
{
    char **argv = calloc(nargs + 6, sizeof *argv);
    if (!argv) return NULL;
    size_t n = 0;
    argv[n++] = (char *)path;
    for (size_t i = 0; i < nargs; i++) argv[n++] = (char *)args[i];
    argv[n++] = "--parent-fd";
    argv[n++] = "3";
    argv[n++] = "--ready-fd";
    argv[n++] = "4";
    return argv;
}

/* Reads the first line from fd within `timeout` seconds; 0 when a full line arrived. */
static int read_line(int fd, double timeout, char *line, size_t linelen)
{
    size_t len = 0;
    uint64_t deadline = uv_hrtime() + (uint64_t)(timeout * 1e9);
    while (len + 1 < linelen) {
        uint64_t now = uv_hrtime();
        if (now >= deadline) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t got = read(fd, line + len, linelen - 1 - len);
        if (got <= 0) return -1;
        len += (size_t)got;
        line[len] = '\0';
        char *nl = memchr(line, '\n', len);
        if (nl) return *nl = '\0', 0;
    }
    return -1;
}

int sbx_daemon_spawn(struct sbx_daemon *d, const char *path, const char *const *args,
                     size_t nargs, double ready_timeout, char *line, size_t linelen,
                     char *err, size_t errlen)
{
    int parent[2], ready[2];
    d->pid = -1, d->parent_fd = -1, d->reaped = 1;
    char **argv = build_argv(path, args, nargs);
    if (!argv) return snprintf(err, errlen, "out of memory"), -1;
    if (pipe2(parent, O_CLOEXEC) != 0) return free(argv), snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if (pipe2(ready, O_CLOEXEC) != 0) {
        close(parent[0]), close(parent[1]), free(argv);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    pid_t pid = fork();
    if (pid == 0) exec_child(path, argv, parent[0], ready[1]);
    free(argv);
    close(parent[0]);
    close(ready[1]);
    if (pid < 0) {
        close(parent[1]), close(ready[0]);
        return snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
    }
    d->pid = pid, d->parent_fd = parent[1], d->reaped = 0;
    int rc = read_line(ready[0], ready_timeout, line, linelen);
    close(ready[0]);
    if (rc != 0) {
        sbx_daemon_stop(d, 0);
        snprintf(err, errlen, "%s did not report ready within %g s", path, ready_timeout);
    }
    return rc;
}

/* Reaps the child if it has exited; returns 1 when it is gone. */
static int try_reap(struct sbx_daemon *d)
{
    int status;
    pid_t r = waitpid(d->pid, &status, WNOHANG);
    if (r == d->pid || (r < 0 && errno == ECHILD)) d->reaped = 1;
    return d->reaped;
}

void sbx_daemon_stop(struct sbx_daemon *d, double timeout)
{
    if (d->parent_fd >= 0) close(d->parent_fd);
    d->parent_fd = -1;
    if (d->reaped || d->pid <= 0) return;
    uint64_t deadline = uv_hrtime() + (uint64_t)(timeout * 1e9);
    while (!try_reap(d) && uv_hrtime() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (d->reaped) return;
    kill(d->pid, SIGKILL);
    while (!d->reaped && waitpid(d->pid, NULL, 0) < 0 && errno == EINTR) {}
    d->reaped = 1;
}
