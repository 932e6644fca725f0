/* Starting a command: vfork, the cheapest way to start a process, with the failure
 * reported through the memory parent and child share until the exec. The init never
 * installs a signal handler (main.c resets every disposition at start), so the child
 * inherits default dispositions and can run no handler of the init's; it only clears the
 * signal mask, which blocks SIGCHLD in the init. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "initproto.h"
#include "spawn.h"

struct child {
    const struct spawn_req *r;
    int switch_user;
    volatile struct spawn_failure f; /* set by the child when it fails */
};

/* Session, terminal, the three descriptors and nothing else. */
static int setup_fds(const struct spawn_req *r)
{
    if (setsid() < 0) return SBX_STEP_SETUP;
    if (r->ctty >= 0 && ioctl(r->ctty, TIOCSCTTY, 0) != 0) return SBX_STEP_PTY;
    if (dup2(r->in, 0) < 0 || dup2(r->out, 1) < 0 || dup2(r->err, 2) < 0) return SBX_STEP_SETUP;
    if (close_range(3, ~0U, 0) != 0) return SBX_STEP_SETUP;
    return 0;
}

/* The supplementary groups are [gid]. */
static int switch_user(const struct spawn_req *r)
{
    gid_t groups[1] = {r->gid};
    return setgroups(1, groups) == 0 && setgid(r->gid) == 0 && setuid(r->uid) == 0 ? 0 : -1;
}

/* Runs in the vfork child, on the init's memory: async-signal-safe calls only, then
 * exec or _exit. */
static void child_exec(struct child *c)
{
    const struct spawn_req *r = c->r;
    int step = setup_fds(r);
    if (!step && chdir(r->pl->cwd) != 0) step = SBX_STEP_CWD;
    if (!step && c->switch_user && switch_user(r) != 0) step = SBX_STEP_USER;
    if (!step) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(r->pl->argv[0], r->pl->argv, r->pl->envp);
        step = SBX_STEP_EXEC;
    }
    c->f.err = errno;
    c->f.step = step;
    _exit(127);
}

pid_t spawn_command(const struct spawn_req *r, struct spawn_failure *f)
{
    /* A sandbox that maps one uid cannot switch at all: only switch to another user. */
    struct child c = {.r = r, .switch_user = r->uid != getuid() || r->gid != getgid(), .f = {0, 0}};
    pid_t pid = vfork();
    if (pid == 0) child_exec(&c);
    if (pid < 0) *f = (struct spawn_failure){SBX_STEP_SETUP, errno};
    else *f = (struct spawn_failure){c.f.step, c.f.err};
    return f->step ? -1 : pid;
}
