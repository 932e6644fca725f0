/* Starting sbxd as a child that dies with this process (daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "rtpolicy.h"

extern char **environ;

/* Raises the nice value by `by`, up to 19: best effort (sbx_daemon_cmd.nicer). */
static void run_nicer(int by)
{
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    if (by > 0 && errno == 0) setpriority(PRIO_PROCESS, 0, nice + by > 19 ? 19 : nice + by);
}

/* sbxd's own process group, in the host's session: a terminal's ^C (SIGINT to the
 * foreground group) must not kill sbxd before it can clean up. Not a session of its own:
 * where the kernel schedules by autogroups (kernel.sched_autogroup_enabled, Debian's
 * default), each session is one, CPU is shared among sessions first, and a nice value
 * weighs only within its session; sbxd's own would take as much CPU as the host's whole
 * session, however nice. A group in the background is stopped when it writes to the
 * terminal (with `stty tostop`) or reads from it; sbxd must never be, so it ignores those
 * signals (it gives its commands the default back: launch.c). */
static void leave_foreground(void)
{
    setpgid(0, 0);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
}

/* In the child, between fork and exec: only async-signal-safe calls (and
 * sched_setscheduler, a bare system call). */
static void exec_child(const struct sbx_daemon_cmd *cmd, char *const argv[], char *const envp[],
                       int parent_rd, int ready_wr)
{
    leave_foreground();
    /* A host's real-time priority (a game's or an audio engine's frame thread) is its
     * own: sbxd and its commands run as ordinary processes. */
    if (sbx_policy_is_realtime(sched_getscheduler(0))) {
        struct sched_param none = {0};
        sched_setscheduler(0, SCHED_OTHER, &none);
    }
    run_nicer(cmd->nicer);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    int a = fcntl(parent_rd, F_DUPFD_CLOEXEC, 10), b = fcntl(ready_wr, F_DUPFD_CLOEXEC, 10);
    if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0) _exit(127);
    close_range(5, ~0U, 0);
    execve(cmd->path, argv, envp);
    _exit(127);
}

/* Whether "NAME=value" entry `var` names one of the variables in `set`. */
static int is_overridden(const char *var, const char *const *set, size_t nset)
{
    size_t name_len = strcspn(var, "=");
    for (size_t i = 0; i < nset; i++)
        if (strncmp(var, set[i], name_len) == 0 && set[i][name_len] == '=') return 1;
    return 0;
}

/* The child's environment, made before fork (the child may not allocate): this process's
 * variables, except those `set` gives a value, then the entries of `set`. The array is
 * the caller's to free; its strings are borrowed from environ and `set`. */
static char **build_envp(const char *const *set, size_t nset)
{
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **envp = calloc(n + nset + 1, sizeof *envp);
    if (!envp) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_overridden(environ[i], set, nset)) envp[k++] = environ[i];
    for (size_t i = 0; i < nset; i++) envp[k++] = (char *)set[i];
    return envp;
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

/* Forks the child that execs cmd; the argument and environment arrays are made before
 * fork and freed after it on every path. Returns the pid, or -1 with errno set. */
static pid_t fork_child(const struct sbx_daemon_cmd *cmd, int parent_rd, int ready_wr)
{
    char **argv = build_argv(cmd->path, cmd->args, cmd->nargs);
    char **envp = build_envp(cmd->env, cmd->nenv);
    pid_t pid = -1;
    if (!argv || !envp) errno = ENOMEM;
    else if ((pid = fork()) == 0) exec_child(cmd, argv, envp, parent_rd, ready_wr);
    int saved = errno;
    free(argv), free(envp);
    errno = saved;
    return pid;
}

int sbx_daemon_spawn(struct sbx_daemon *d, const struct sbx_daemon_cmd *cmd, double ready_timeout,
                     char *line, size_t linelen, char *err, size_t errlen)
{
    int parent[2], ready[2];
    d->pid = -1, d->parent_fd = -1, d->reaped = 1;
    if (pipe2(parent, O_CLOEXEC) != 0) return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if (pipe2(ready, O_CLOEXEC) != 0) {
        close(parent[0]), close(parent[1]);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    pid_t pid = fork_child(cmd, parent[0], ready[1]);
    int fork_errno = errno;
    close(parent[0]);
    close(ready[1]);
    if (pid < 0) {
        close(parent[1]), close(ready[0]);
        return snprintf(err, errlen, "cannot start %s: %s", cmd->path, strerror(fork_errno)), -1;
    }
    d->pid = pid, d->parent_fd = parent[1], d->reaped = 0;
    int rc = read_line(ready[0], ready_timeout, line, linelen);
    close(ready[0]);
    if (rc != 0) {
        sbx_daemon_stop(d, 0);
        snprintf(err, errlen, "%s did not report ready within %g s", cmd->path, ready_timeout);
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

int sbx_daemon_alive(struct sbx_daemon *d)
{
    return !d->reaped && d->pid > 0 && !try_reap(d);
}

static void close_parent_pipe(struct sbx_daemon *d)
{
    if (d->parent_fd >= 0) close(d->parent_fd);
    d->parent_fd = -1;
}

void sbx_daemon_close(struct sbx_daemon *d)
{
    close_parent_pipe(d);
    if (!d->reaped && d->pid > 0) try_reap(d);
}

/* Waits up to `timeout` seconds for the child to exit, on a pidfd (readable once it has
 * exited; the child is not reaped yet, so its pid cannot have been reused). Where pidfds
 * are missing, it looks every few milliseconds. Returns 1 when it has exited. */
static int wait_exit(struct sbx_daemon *d, double timeout)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)(timeout * 1e9);
#ifdef SYS_pidfd_open
    int pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
    if (pidfd >= 0) {
        uint64_t now;
        int r = 0;
        while (r <= 0 && (now = uv_hrtime()) < deadline) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            r = poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
            if (r < 0 && errno != EINTR) break;
        }
        close(pidfd);
        return try_reap(d);
    }
#endif
    while (!try_reap(d) && uv_hrtime() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return d->reaped;
}

void sbx_daemon_stop(struct sbx_daemon *d, double timeout)
{
    close_parent_pipe(d);
    if (d->reaped || d->pid <= 0) return;
    if (timeout > 0 && wait_exit(d, timeout)) return;
    if (try_reap(d)) return;
    kill(d->pid, SIGKILL);
    while (!d->reaped && waitpid(d->pid, NULL, 0) < 0 && errno == EINTR) {}
    d->reaped = 1;
}
