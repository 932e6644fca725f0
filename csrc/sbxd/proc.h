/* Processes: `/bin/sh -c CMD` in its own session, stdio on pipes read through libuv,
 * reaped on SIGCHLD, killed as a whole process group. Output goes to the process's log,
 * which its reader (an SSE stream) drains; a slow reader pauses the pipe reads. */
#ifndef SBXD_PROC_H
#define SBXD_PROC_H
#include "outlog.h"
#include "request.h"
#include "sbxd.h"

#define SBXD_LOG_HIGH (256u * 1024u)   /* stop reading the pipes above this backlog */
#define SBXD_LOG_LOW  (64u * 1024u)    /* and start again below this */
#define SBXD_HEAD_HOLD_MS 2u            /* longest wait of a stream's head for company */

struct sbxd_proc {
    struct sbxd_server *srv;
    struct sbxd_proc *prev, *next;     /* srv->procs */
    struct sbxd_sandbox *box;          /* NULL once the sandbox is gone */
    pid_t pid;
    int exited, status;
    const char *reason;                /* why sbxd killed it: "timeout", ... or NULL */
    uv_pipe_t *out, *err;              /* NULL once at EOF and closed */
    uv_timer_t *timer;                 /* the command's timeout */
    uv_timer_t *ticker;                /* the stream's: head hold, then keep-alives */
    struct sbxd_outlog log;
    struct lws *reader;                /* the SSE stream, NULL once it closed */
    int paused, end_sent, wrote_since_tick, keepalive_due;
    int head_due, head_released;       /* response head not sent yet; its hold is over */
    int write_wanted;                  /* a WRITEABLE callback is requested */
};

/* Starts the command of `req` in `box`. NULL with err set when refused or failed. */
struct sbxd_proc *sbxd_proc_start(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
                                  struct sbxd_err *err);
/* Kills the process group with SIGKILL; `reason` goes to the end event. */
void sbxd_proc_kill(struct sbxd_proc *p, const char *reason);
/* The reader went away: kill the command and free it once it is reaped. */
void sbxd_proc_detach(struct sbxd_proc *p);
/* Reaps every exited child (SIGCHLD). */
void sbxd_proc_reap(struct sbxd_server *srv);
/* The command has exited, both pipes are at EOF and the log is drained. */
int sbxd_proc_finished(const struct sbxd_proc *p);
/* The reader took bytes: resume the pipes when the backlog fell low enough. */
void sbxd_proc_drained(struct sbxd_proc *p);
/* Server shutdown: kill and free everything. */
void sbxd_proc_free_all(struct sbxd_server *srv);

#endif
