#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "protocol.h"
#include "initchan.h"
#include "initproto.h"
#include "launch.h"
#include "cpusched.h"
#include "pty.h"
#include "users.h"

/* PATH, HOME, LANG, then the sandbox's env, then the command's: later ones win. */
static char **build_env(const struct sbxd_sandbox *box, const char *home, const char *user, json_t *cmd_env)
{
    json_t *env = json_object();
    json_object_set_new(env, "PATH", json_string("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    json_object_set_new(env, "HOME", json_string(home));
    if (user) json_object_set_new(env, "USER", json_string(user));
    json_object_set_new(env, "LANG", json_string("C.UTF-8"));
    json_object_update(env, box->env);
    if (cmd_env) json_object_update(env, cmd_env);
    char **envp = calloc(json_object_size(env) + 1, sizeof *envp);
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(env, key, v) {
        if (!envp) break;
        size_t len = strlen(key) + json_string_length(v) + 2;
        if (!(envp[n] = malloc(len))) break;
        snprintf(envp[n++], len, "%s=%s", key, json_string_value(v));
    }
    json_decref(env);
    return envp;
}

static void free_env(char **envp)
{
    for (char **e = envp; e && *e; e++) free(*e);
    free(envp);
}

/* A command's stdio: pipes, each [0] the read end, [1] the write end; or on the host a
 * pty (tty set), whose slave is the child's ends and master ours: in[1] and out[0]. */
struct pipes {
    int in[2], out[2], err[2];
    int tty;
};

static void close_pipes(struct pipes *ps)
{
    int *fds = &ps->in[0];
    for (int i = 0; i < 6; i++)
        if (fds[i] >= 0) close(fds[i]);
}

/* After the spawn: the child's ends are the child's alone. */
static void close_child_ends(struct pipes *ps)
{
    int *ends[] = {&ps->in[0], &ps->out[1], &ps->err[1]};
    for (size_t i = 0; i < 3; i++) {
        if (*ends[i] >= 0) close(*ends[i]);
        *ends[i] = -1;
    }
}

/* A foreground command with no stdin bytes reads /dev/null, opened once by sbxd_launch_init: the
 * same immediate EOF as an empty pipe, without a pipe to make and close on every run. */
static int devnull = -1;

static int open_pipes(struct pipes *ps, int want_stdin)
{
    memset(ps, -1, sizeof *ps);
    ps->tty = 0;
    if ((want_stdin || devnull < 0) && pipe2(ps->in, O_CLOEXEC)) return -1;
    if (pipe2(ps->out, O_CLOEXEC) || pipe2(ps->err, O_CLOEXEC)) {
        close_pipes(ps);
        return -1;
    }
    return 0;
}

/* A pty on the host: the slave three times over for the child (each end is closed once),
 * the master twice for sbxd (stdin's writes and output's reads are two libuv handles). */
static int open_host_pty(struct pipes *ps, const struct sbxd_start_req *req)
{
    int master, slave;
    memset(ps, -1, sizeof *ps);
    if (sbxd_pty_open(req->rows, req->cols, &master, &slave) != 0) return -1;
    ps->tty = 1;
    ps->in[0] = slave;
    ps->out[0] = master;
    ps->out[1] = fcntl(slave, F_DUPFD_CLOEXEC, 3);
    ps->err[1] = fcntl(slave, F_DUPFD_CLOEXEC, 3);
    ps->in[1] = fcntl(master, F_DUPFD_CLOEXEC, 3);
    if (ps->out[1] >= 0 && ps->err[1] >= 0 && ps->in[1] >= 0) return 0;
    int e = errno;
    close_pipes(ps);
    errno = e;
    return -1;
}

/* The command's stdio: pipes (stdin's when it gets bytes or stays open), a pty on the
 * host, or, for a sandbox's pty, nothing: its init opens the pty inside. */
static int open_stdio(struct pipes *ps, const struct sbxd_start_req *req, int in_sandbox)
{
    if (req->pty && in_sandbox) return memset(ps, -1, sizeof *ps), ps->tty = 0, 0;
    if (req->pty) return open_host_pty(ps, req);
    return open_pipes(ps, req->stdin_len > 0 || sbxd_start_keeps_stdin(req));
}

/* The descriptor the command reads as stdin. */
static int stdin_source(const struct pipes *ps)
{
    return ps->in[0] >= 0 ? ps->in[0] : devnull;
}

/* Signals whose disposition is not the default in sbxd: the ones it catches or ignores,
 * and any it inherited ignored. A command must start with none of them: a caught one
 * would run sbxd's handler in the vfork child, an ignored one survives exec. Found once,
 * by sbxd_launch_init, because dispositions are as process-wide as this table. */
static int changed_signals[NSIG];
static size_t n_changed;

/* The descriptor limit sbxd was started with: sbxd raises its own (main.c), a command
 * gets the one it would have had, so that a program that select()s or closes every
 * descriptor up to the limit works as it would outside. */
static struct rlimit start_nofile;
static int reset_nofile;

void sbxd_launch_init(const struct rlimit *nofile)
{
    reset_nofile = nofile != NULL;
    if (nofile) start_nofile = *nofile;
    if (devnull < 0) devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    n_changed = 0;
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        /* glibc's own signals (SIGCANCEL, SIGSETXID) are refused here and left alone */
        if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) changed_signals[n_changed++] = s;
    }
}

/* Why a command did not start: the child's step that failed, and its errno. The cwd is
 * not checked beforehand: the child's chdir is the check (a stat first would walk the
 * path twice on every start). */
enum start_step { STEP_SETUP = SBX_STEP_SETUP, STEP_CWD = SBX_STEP_CWD, STEP_USER = SBX_STEP_USER,
                  STEP_EXEC = SBX_STEP_EXEC };
struct start_failure {
    int step, err;
};

/* Closes every descriptor from 3 up but `keep` (-1: none). A command gets 0, 1 and 2
 * only: not what sbxd inherited without close-on-exec (the embedding parent's pipe, a
 * shell's open files), which would keep them open as long as the command lives. */
static int close_inherited(int keep)
{
    if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0) return -1;
    return close_range(keep >= 3 ? (unsigned)keep + 1 : 3, ~0U, 0);
}

/* The child's fd, session and directory set-up, common to both ways of starting. */
static int child_setup(const struct pipes *ps, const char *cwd, int keep_fd)
{
    if (setsid() < 0 || dup2(stdin_source(ps), 0) < 0 || dup2(ps->out[1], 1) < 0 || dup2(ps->err[1], 2) < 0 ||
        close_inherited(keep_fd) < 0 || (ps->tty && ioctl(0, TIOCSCTTY, 0) < 0))
        return STEP_SETUP;
    if (chdir(cwd) < 0) return STEP_CWD;
    return 0;
}

struct fast_child {
    const char *cwd;
    char *const *argv;
    char **envp;
    const struct pipes *ps;
    const sigset_t *mask;           /* the command's: nothing blocked */
    volatile struct start_failure f; /* set by the child when it fails; memory is shared until exec */
};

/* Runs in the vfork child, on sbxd's memory: only async-signal-safe calls, then exec. */
static void fast_child_exec(struct fast_child *c)
{
    for (size_t i = 0; i < n_changed; i++) signal(changed_signals[i], SIG_DFL);
    sbxd_sched_in_child();
    if (reset_nofile) setrlimit(RLIMIT_NOFILE, &start_nofile);
    int step = child_setup(c->ps, c->cwd, -1);
    if (!step) {
        sigprocmask(SIG_SETMASK, c->mask, NULL);
        execve("/bin/sh", c->argv, c->envp);
        step = STEP_EXEC;
    }
    c->f.err = errno;
    c->f.step = step;
    _exit(127);
}

/* The common case, no user switch: vfork, the cheapest way to start a process. Not
 * posix_spawn: glibc's resets every one of the 64 signals in the child, two syscalls
 * each, on every start, where only a few dispositions differ from the default.
 * Every signal stays blocked until the child has reset those few. */
static int spawn_fast(const char *cwd, char *const argv[], char **envp, struct pipes *ps, pid_t *pid,
                      struct start_failure *f)
{
    sigset_t all, old, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, &old);
    struct fast_child c = {.cwd = cwd, .argv = argv, .envp = envp, .ps = ps, .mask = &none, .f = {0, 0}};
    *pid = vfork();
    if (*pid == 0) fast_child_exec(&c);
    *f = *pid < 0 ? (struct start_failure){STEP_SETUP, errno} : (struct start_failure){c.f.step, c.f.err};
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (*pid > 0 && f->step) waitpid(*pid, NULL, 0);  /* it failed before exec: reap it now */
    return f->step ? -1 : 0;
}

/* In the forked child: only what must happen between fork and exec. A failure is
 * reported as a struct start_failure on the status pipe, whose close at exec means
 * success. */
static void child_as_user(const char *cwd, char *const argv[], char **envp, struct pipes *ps,
                          const struct passwd *pw, int status_fd)
{
    sbxd_launch_child_reset();
    int step = child_setup(ps, cwd, status_fd); /* the status pipe closes at exec */
    if (!step && (setgid(pw->pw_gid) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0))
        step = STEP_USER;
    if (!step) execve("/bin/sh", argv, envp), step = STEP_EXEC;
    struct start_failure f = {step, errno};
    if (write(status_fd, &f, sizeof f) < 0) _exit(126);
    _exit(127);
}

static int spawn_as_user(const char *cwd, char *const argv[], char **envp, struct pipes *ps,
                         const struct passwd *pw, pid_t *pid, struct start_failure *f)
{
    int st[2];
    if (pipe2(st, O_CLOEXEC) != 0) return *f = (struct start_failure){STEP_SETUP, errno}, -1;
    *pid = fork();
    if (*pid == 0) child_as_user(cwd, argv, envp, ps, pw, st[1]);
    *f = (struct start_failure){*pid < 0 ? STEP_SETUP : 0, errno};
    close(st[1]);
    if (*pid > 0) {
        /* EOF: the exec closed the pipe. Only a whole report means the child failed. */
        struct start_failure child;
        ssize_t n;
        do n = read(st[0], &child, sizeof child);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof child) *f = child;
    }
    close(st[0]);
    return f->step ? -1 : 0;
}

/* Out of a resource sbxd or the system holds, not a fault: 503, worth a retry later. */
static int out_of_resources(int e, const char *what, struct sbxd_err *err)
{
    if (e == EMFILE || e == ENFILE)
        return sbxd_fail(err, 503, SBX_ERR_SANDBOX, "out of file descriptors: cannot %s (%s)", what, strerror(e));
    return sbxd_fail(err, 503, SBX_ERR_SANDBOX, "out of processes: cannot %s (%s)", what, strerror(e));
}

static int pipes_error(int e, struct sbxd_err *err)
{
    if (e == EMFILE || e == ENFILE) return out_of_resources(e, "create the command's pipes", err);
    return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot create pipes: %s", strerror(e));
}

int sbxd_start_failure(int step, int e, const char *cwd, struct sbxd_err *err)
{
    const struct start_failure failure = {step, e}, *f = &failure;
    if (step == SBX_STEP_PAYLOAD) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "the sandbox's init refused the command");
    if (step == SBX_STEP_PTY) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot open a pty: %s", strerror(e));
    if (f->step == STEP_CWD && (f->err == ENOENT || f->err == ENOTDIR))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "cwd: no such directory '%.200s'", cwd);
    if (f->step == STEP_CWD)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "cwd: cannot enter '%.200s': %s", cwd, strerror(f->err));
    /* Parsing holds cmd and env below what execve takes with a usual stack limit; a small
     * one (execve takes a quarter of it) can still refuse them. Still the request's fault. */
    if (f->step == STEP_EXEC && f->err == E2BIG)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'cmd' and 'env' are too big to start the command: %s",
                         strerror(f->err));
    if (f->err == EMFILE || f->err == ENFILE || (f->step == STEP_SETUP && f->err == EAGAIN))
        return out_of_resources(f->err, "start the command", err);
    return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot start the command: %s", strerror(f->err));
}

/* Outside a sandbox, another user is a host user, which needs sbxd to be root. */
static int find_host_user(const char *user, struct passwd *pw, char *buf, size_t len, struct sbxd_err *err)
{
    struct passwd *found = NULL;
    if (geteuid() != 0)
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "cannot run as user '%.100s': sbxd is not running as root", user);
    if (getpwnam_r(user, pw, buf, len, &found) != 0 || !found)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "unknown user '%.100s'", user);
    return 0;
}

/* In a sandbox: a user of its /etc/passwd. Where sbxd maps a single uid (not root), the
 * init runs as `user` and cannot become another. */
static const struct sbxd_user *find_box_user(const struct sbxd_sandbox *box, const char *name,
                                             struct sbxd_err *err)
{
    const struct sbxd_user *u = name ? sbxd_user_find(name) : sbxd_user_default();
    if (!u) {
        sbxd_fail(err, 400, SBX_ERR_INVALID, "unknown user '%.100s': the sandbox has root, user and nobody", name);
        return NULL;
    }
    if (box->single_uid && u != sbxd_user_default()) {
        sbxd_fail(err, 400, SBX_ERR_INVALID,
                  "cannot run as '%.100s': sbxd is not running as root, so a sandbox has one user, 'user'", name);
        return NULL;
    }
    return u;
}

/* The directory the command starts in: the sandbox's home by default, and a relative
 * cwd is relative to it, not to wherever sbxd runs. A joined path is malloc'd into
 * *joined (to free); NULL when out of memory. */
static const char *start_dir(const char *home, const char *cwd, char **joined)
{
    *joined = NULL;
    if (!cwd) return home;
    if (cwd[0] == '/') return cwd;
    size_t len = strlen(home) + strlen(cwd) + 2;
    if ((*joined = malloc(len))) snprintf(*joined, len, "%s/%s", home, cwd);
    return *joined;
}

/* What the command line and the environment take of execve's argument space. */
static size_t exec_size(char *const argv[], char **envp)
{
    size_t total = 0;
    for (char *const *a = argv; *a; a++) total += sbxd_exec_cost(strlen(*a));
    for (char **e = envp; *e; e++) total += sbxd_exec_cost(strlen(*e));
    return total;
}

/* The environment, unless it or the whole is refused (err set). */
static char **start_env(struct sbxd_sandbox *box, const struct sbxd_start_req *req, const char *home,
                        const char *user, char *const argv[], struct sbxd_err *err)
{
    char **envp = build_env(box, home, user, req->env);
    if (!envp) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory"), NULL;
    size_t total = exec_size(argv, envp);
    if (total <= SBX_MAX_EXEC_TOTAL) return envp;
    free_env(envp);
    sbxd_fail(err, 400, SBX_ERR_INVALID,
              "'env' is too big: %zu bytes with the sandbox's env and 'cmd', at most %u", total,
              SBX_MAX_EXEC_TOTAL);
    return NULL;
}

/* Starts the command on the host with its environment and pipes ready; the pipes are
 * closed on failure. */
static int start(struct sbxd_sandbox *box, const struct sbxd_start_req *req, const char *dir,
                 char *const argv[], char **envp, struct pipes *ps, const struct passwd *pw,
                 pid_t *pid, struct sbxd_err *err)
{
    sbxd_sched_before_start(box->srv->running);
    struct start_failure f;
    int rc = pw ? spawn_as_user(dir, argv, envp, ps, pw, pid, &f) : spawn_fast(dir, argv, envp, ps, pid, &f);
    close_child_ends(ps);
    if (rc != 0) {
        close_pipes(ps);
        return sbxd_start_failure(f.step, f.err, req->cwd ? req->cwd : dir, err);
    }
    return 0;
}

/* Hands the command to the sandbox's init: it answers later (STARTED or FAILED with this
 * start's seq). The pipes' far ends go with the message; ours stay. */
static int send_to_init(struct sbxd_sandbox *box, const struct sbxd_start_req *req, const char *dir,
                        char *const argv[], char **envp, const struct sbxd_user *u, struct pipes *ps,
                        uint32_t *seq, struct sbxd_err *err)
{
    int fds[3];
    size_t n = 0;
    struct sbxd_initchan_who who = {u->uid, u->gid, ps->in[0] >= 0 ? SBX_START_STDIN : 0, 0, 0};
    if (req->pty) {
        who = (struct sbxd_initchan_who){u->uid, u->gid, SBX_START_PTY, (uint16_t)req->rows, (uint16_t)req->cols};
    } else {
        if (ps->in[0] >= 0) fds[n++] = ps->in[0];
        fds[n++] = ps->out[1];
        fds[n++] = ps->err[1];
    }
    int rc = sbxd_initchan_start(box->chan, dir, argv, envp, &who, fds, n, seq);
    close_child_ends(ps);
    if (rc == 0) return 0;
    int e = errno;
    close_pipes(ps);
    if (e == EMFILE || e == ENFILE) return out_of_resources(e, "hand the command to the sandbox", err);
    return sbxd_fail(err, 503, SBX_ERR_SANDBOX, "cannot hand the command to the sandbox: %s", strerror(e));
}

/* Who runs the command: in a sandbox a user of its /etc/passwd (u), with isolation none
 * a host user (pw, NULL for sbxd's own). */
struct runner {
    const struct sbxd_user *u;
    const struct passwd *pw;
};

/* Its environment, directory and pipes, then the start: by the sandbox's init, or on the
 * host. */
static int launch(struct sbxd_sandbox *box, const struct sbxd_start_req *req, char *const argv[],
                  const struct runner *who, struct sbxd_spawned *out, struct sbxd_err *err)
{
    char **envp = start_env(box, req, who->u ? who->u->home : box->home, who->u ? who->u->name : NULL, argv, err);
    if (!envp) return -1;
    char *joined;
    const char *dir = start_dir(box->home, req->cwd, &joined);
    struct pipes ps;
    int rc = -1;
    out->pid = 0;
    if (!dir)
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
    else if (open_stdio(&ps, req, who->u != NULL) != 0)
        pipes_error(errno, err);
    else if (who->u)
        rc = send_to_init(box, req, dir, argv, envp, who->u, &ps, &out->seq, err);
    else
        rc = start(box, req, dir, argv, envp, &ps, who->pw, &out->pid, err);
    if (rc == 0) {
        out->in = ps.in[1];
        out->out = ps.out[0];
        out->err = ps.err[0];
    }
    free(joined);
    free_env(envp);
    return rc;
}

int sbxd_spawn(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
               struct sbxd_spawned *out, struct sbxd_err *err)
{
    char *const argv[] = {"/bin/sh", "-c", (char *)req->cmd, NULL};
    struct passwd pw;
    char pwbuf[4096];
    struct runner who = {NULL, NULL};
    out->seq = 0;
    if (box->chan && !(who.u = find_box_user(box, req->user, err))) return -1;
    if (!box->chan && req->user) {
        if (find_host_user(req->user, &pw, pwbuf, sizeof pwbuf, err)) return -1;
        who.pw = &pw;
    }
    return launch(box, req, argv, &who, out, err);
}

void sbxd_launch_child_reset(void)
{
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sbxd_sched_in_child();
    if (reset_nofile) setrlimit(RLIMIT_NOFILE, &start_nofile);
}
