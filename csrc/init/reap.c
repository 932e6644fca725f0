/* SIGCHLD: every child that ended is waited for, never blocking. A command the init
 * started is reported, then what is left of its process group is killed: a command ends
 * with its own exit. Orphans reparented to the init are reaped silently. */
#include <signal.h>
#include <sys/wait.h>
#include "init.h"

int reap_children(int chan)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return 0; /* 0: the others still run; -1 (ECHILD): none left */
        if (!children_remove(pid)) continue;
        struct sbx_init_reply r = {.type = SBX_INIT_EXITED, .pid = pid, .status = status};
        if (chan_send(chan, &r, -1) != 0) return -1;
        /* The group outlives its leader while a member lives, and its number cannot be
         * given to a new process until then. */
        kill(-pid, SIGKILL);
    }
}
