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

/* Spawns `path args... --parent-fd 3 --ready-fd 4` and waits up to ready_timeout seconds
 * for its first line, stored in `line`. Returns 0, or -1 with a message in err. */
int sbx_daemon_spawn(struct sbx_daemon *d, const char *path, const char *const *args,
                     size_t nargs, double ready_timeout, char *line, size_t linelen,
                     char *err, size_t errlen);
/* Closes the parent pipe, waits up to timeout seconds, then SIGKILLs; idempotent. */
void sbx_daemon_stop(struct sbx_daemon *d, double timeout);

#endif
