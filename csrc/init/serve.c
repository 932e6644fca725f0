/* One message from sbxd. Malformed ones (a size or type no message of sbxd's has, a
 * signal with descriptors) are ignored and their descriptors closed. */
#include <signal.h>
#include "init.h"

/* A signal for a command's process group, only while it runs (not yet reported exited:
 * afterwards its number can belong to another process). */
static void relay_signal(const struct sbx_init_signal *s)
{
    if (s->pid > 0 && children_has(s->pid)) kill(-s->pid, s->sig);
}

/* Every process in the namespace but the init itself. */
static void signal_all(const struct sbx_init_signal *s)
{
    kill(-1, s->type == SBX_INIT_STOP_ALL ? SIGSTOP : SIGCONT);
}

static int is_signal_type(uint32_t type)
{
    return type == SBX_INIT_SIGNAL || type == SBX_INIT_STOP_ALL || type == SBX_INIT_CONT_ALL;
}

int serve(int chan, struct chan_msg *m)
{
    if (m->len == sizeof m->u.start && m->u.type == SBX_INIT_START) return start_command(chan, m);
    if (m->len == sizeof m->u.signal && is_signal_type(m->u.type) && m->nfds == 0 && !m->fds_lost) {
        if (m->u.type == SBX_INIT_SIGNAL) relay_signal(&m->u.signal);
        else signal_all(&m->u.signal);
    }
    close_fds(m->fds, m->nfds);
    m->nfds = 0;
    return 0;
}
