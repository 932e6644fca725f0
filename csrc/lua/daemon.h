/* Starting sbxd as a child that dies with us: it inherits the read end of a pipe whose
 * write end only this process holds (sbxd exits at its EOF, even after a SIGKILL of this
 * process), and reports readiness on a second pipe. */
#ifndef SBX_DAEMON_H
#define SBX_DAEMON_H
#include <stddef.h>
#include <sys/types.h>

struct sbx_daemon {
    pid_t pid;
    int parent_fd;   /* write end of the parent pipe; -1 once closed */
    int reaped;
};

/* What to run: `path args... --parent-fd 3 --ready-fd 4`, with this process's environment
 * where each "NAME=value" of `env` replaces or adds a variable. The environment, readable
 * only by the same user in /proc/PID/environ, is where a secret goes: the command line
 * is readable by every user in /proc/PID/cmdline. */
struct sbx_daemon_cmd {
    const char *path;
    const char *const *args;
    size_t nargs;
    const char *const *env;
    size_t nenv;
    /* How much nicer than this process sbxd runs (0..19; its commands inherit it): an
     * embedding host's frames then come before sbxd's relaying and the commands' work. */
    int nicer;
};

/* Spawns cmd and waits up to ready_timeout seconds for its first line, stored in `line`.
 * Returns 0, or -1 with a message in err. */
int sbx_daemon_spawn(struct sbx_daemon *d, const struct sbx_daemon_cmd *cmd, double ready_timeout,
                     char *line, size_t linelen, char *err, size_t errlen);
/* Whether the child still runs; reaps it when it has exited. */
int sbx_daemon_alive(struct sbx_daemon *d);
/* Closes the parent pipe, at whose EOF sbxd cleans up and exits by itself, and reaps the
 * child if it has exited already; never waits (finalizers use it). Idempotent. */
void sbx_daemon_close(struct sbx_daemon *d);
/* Closes the parent pipe, waits up to timeout seconds for sbxd to exit, then SIGKILLs it
 * and reaps it; idempotent. */
void sbx_daemon_stop(struct sbx_daemon *d, double timeout);

#endif
