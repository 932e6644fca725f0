/* SBX_INIT_START: a command with its payload and stdio, answered with STARTED (with the
 * pty master when it asked for a pty) or FAILED. Every descriptor that came with the
 * message is closed here once the command has its copies, on every path. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include "init.h"
#include "payload.h"
#include "pty.h"
#include "spawn.h"

#define KNOWN_FLAGS (SBX_START_PTY | SBX_START_STDIN)

/* What a command without stdin bytes reads: opened once, kept close-on-exec. */
static int devnull = -1;

/* The descriptors the start must carry: the payload, then stdin (with SBX_START_STDIN),
 * stdout and stderr; with a pty only the payload (a stdin flag then means nothing). */
static size_t fds_expected(uint32_t flags)
{
    if (flags & SBX_START_PTY) return 1;
    return (flags & SBX_START_STDIN) ? 4 : 3;
}

/* The command's stdio, from the message's pipes or a new pty (*master, *slave). */
static int open_stdio(const struct chan_msg *m, struct spawn_req *r, int *master, int *slave,
                      struct spawn_failure *f)
{
    const struct sbx_init_start *s = &m->u.start;
    if (s->flags & SBX_START_PTY) {
        f->err = pty_open(s->rows, s->cols, master, slave);
        if (f->err) return f->step = SBX_STEP_PTY, -1;
        r->in = r->out = r->err = r->ctty = *slave;
        return 0;
    }
    size_t next = 1;
    if (s->flags & SBX_START_STDIN) {
        r->in = m->fds[next++];
    } else {
        if (devnull < 0) devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) return *f = (struct spawn_failure){SBX_STEP_SETUP, errno}, -1;
        r->in = devnull;
    }
    r->out = m->fds[next++];
    r->err = m->fds[next];
    return 0;
}

/* The command's pid, or -1 with *f set. *master is the pty master, if any, to send. */
static pid_t start(const struct chan_msg *m, int *master, struct spawn_failure *f)
{
    const struct sbx_init_start *s = &m->u.start;
    if (m->fds_lost || (s->flags & ~KNOWN_FLAGS) || m->nfds != fds_expected(s->flags))
        return *f = (struct spawn_failure){SBX_STEP_PAYLOAD, EINVAL}, -1;
    struct payload pl;
    int err = payload_read(m->fds[0], s, &pl);
    if (err) return *f = (struct spawn_failure){SBX_STEP_PAYLOAD, err}, -1;
    struct spawn_req r = {.pl = &pl, .ctty = -1, .uid = s->uid, .gid = s->gid};
    int slave = -1;
    pid_t pid = -1;
    if (open_stdio(m, &r, master, &slave, f) == 0) pid = spawn_command(&r, f);
    if (slave >= 0) close(slave);
    payload_free(&pl);
    return pid;
}

int start_command(int chan, struct chan_msg *m)
{
    int master = -1;
    struct spawn_failure f;
    pid_t pid = start(m, &master, &f);
    close_fds(m->fds, m->nfds);
    m->nfds = 0;
    struct sbx_init_reply r = {.type = SBX_INIT_FAILED, .seq = m->u.start.seq, .step = f.step, .err = f.err};
    if (pid > 0 && children_add(pid) != 0) {
        /* Untracked it would never be reported: it must not run. */
        kill(-pid, SIGKILL);
        r.step = SBX_STEP_SETUP, r.err = ENOMEM;
    } else if (pid > 0) {
        r = (struct sbx_init_reply){.type = SBX_INIT_STARTED, .seq = m->u.start.seq, .pid = pid};
    }
    int rc = chan_send(chan, &r, r.type == SBX_INIT_STARTED ? master : -1);
    if (master >= 0) close(master);
    return rc;
}
