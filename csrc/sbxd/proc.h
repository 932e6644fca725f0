/* Processes: `/bin/sh -c CMD` in its own session, stdio on pipes read through libuv,
 * reaped on SIGCHLD, killed as a whole process group. A process owns its pipes, its
 * output (the log), its exit and its timeout; it knows nothing of how its output is
 * sent. Whoever reads it attaches as its reader (struct sbxd_reader): the process tells
 * the reader when output is ready and when it has finished, and the reader takes bytes
 * from the log; a backlog the reader does not take pauses the pipe reads. */
#ifndef SBXD_PROC_H
#define SBXD_PROC_H
#include "outlog.h"
#include "request.h"
#include "sbxd.h"
#include "stdin.h"

#define SBXD_LOG_HIGH (256u * 1024u)   /* stop reading the pipes above this backlog */
#define SBXD_LOG_LOW  (64u * 1024u)    /* and start again below this */

struct sbxd_reader;

/* What a process tells its reader. A call may end the reader's use of the process
 * (detach) and so free it: the process touches nothing of itself after one. */
struct sbxd_reader_ops {
    /* New output is in the log. */
    void (*on_output)(struct sbxd_reader *r);
    /* The command has exited and both pipes are at EOF: the log holds all it will say.
     * Comes again after each later change (the reader taking bytes does not count). */
    void (*on_exited)(struct sbxd_reader *r);
    /* The process is being freed at shutdown: the reader forgets it and does not detach. */
    void (*on_gone)(struct sbxd_reader *r);
    /* The command did not start (the sandbox's init said why, in `err`): the reader
     * answers with the error and detaches. */
    void (*on_start_failed)(struct sbxd_reader *r, const struct sbxd_err *err);
};

/* Embedded in the reader's own struct; today a process has at most one. */
struct sbxd_reader {
    const struct sbxd_reader_ops *ops;
};

struct sbxd_proc {
    struct sbxd_server *srv;
    struct sbx_list link;              /* in srv->procs */
    struct sbxd_sandbox *box;          /* NULL once the sandbox is gone */
    pid_t pid;                         /* in its sandbox; 0 until the init answers */
    int host;                          /* pid is sbxd's own child (isolation none) */
    uint32_t seq;                      /* the start's number on the init's channel */
    char *what;                        /* cmd, cwd (as the request named it, or the home), user
                                          and tag, NUL-separated: the list's, and the cwd a
                                          start's failure names */
    double started_at;
    int exited, status;
    const char *reason;                /* why sbxd killed it: "timeout", ... or NULL */
    uv_pipe_t *out, *err;              /* NULL once at EOF and closed */
    uv_timer_t *timer;                 /* the command's timeout */
    double timeout;                    /* its seconds, armed once it runs (0: none) */
    uint64_t timer_left;               /* the timeout's ms left, while its sandbox is paused */
    int timer_held;
    uv_timer_t *idle;                  /* its idle timeout: restarted by each chunk read or taken */
    double idle_timeout;
    uint64_t idle_left;
    int idle_held;
    long oom_before;                   /* its sandbox's OOM kills at its start (-1: none counted) */
    struct sbxd_outlog log;
    struct sbxd_reader *reader;        /* NULL when none is attached */
    int backlogged;                    /* reads paused: the log is above SBXD_LOG_HIGH */
    int held;                          /* reads paused by the reader */
    struct sbxd_stdin in;              /* a background command's open stdin (stdin.h) */
};

/* Starts the command of `req` in `box`. NULL with err set when refused or failed. */
struct sbxd_proc *sbxd_proc_start(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
                                  struct sbxd_err *err);
/* Kills the process group with SIGKILL; `reason` goes to the end event. */
void sbxd_proc_kill(struct sbxd_proc *p, const char *reason);
/* Makes `r` the process's reader; output appended from now on is kept for it. */
void sbxd_proc_attach(struct sbxd_proc *p, struct sbxd_reader *r);
/* The reader went away (or none came): kill the command and free it once it is reaped.
 * p is not to be used afterwards. */
void sbxd_proc_detach(struct sbxd_proc *p);
/* The sandbox is going: kills each of its processes (with `reason`, or NULL) and leaves
 * them without a sandbox. */
void sbxd_proc_kill_sandbox(struct sbxd_sandbox *box, const char *reason);
/* Reaps every exited child (SIGCHLD): the processes of isolation none, and sandboxes'
 * bwraps (whose ends the init's channel reports). */
void sbxd_proc_reap(struct sbxd_server *srv);
/* The running process `pid` of `box`, else the latest one that has exited and is still
 * held (its reader has not finished with it); NULL when neither. */
struct sbxd_proc *sbxd_proc_find_known(struct sbxd_sandbox *box, pid_t pid);
/* What a sandbox's init said about a command: it runs as `pid`; it did not start; it
 * exited with a wait status. */
struct sbxd_proc *sbxd_proc_find_start(struct sbxd_sandbox *box, uint32_t seq);
struct sbxd_proc *sbxd_proc_find_pid(struct sbxd_sandbox *box, pid_t pid);
void sbxd_proc_started(struct sbxd_proc *p, pid_t pid);
void sbxd_proc_start_failed(struct sbxd_proc *p, int step, int err);
void sbxd_proc_exited(struct sbxd_proc *p, int status);
/* The process has its pid: its start event can go. */
int sbxd_proc_started_yet(const struct sbxd_proc *p);
/* The command has exited, both pipes are at EOF and the log is drained. */
int sbxd_proc_finished(const struct sbxd_proc *p);
/* The command has exited and both pipes are at EOF (the log may still hold bytes). */
int sbxd_proc_done(const struct sbxd_proc *p);
/* The reader took bytes from the log: reads resume when the backlog fell low enough. */
void sbxd_proc_drained(struct sbxd_proc *p);
/* The reader stops the pipe reads, and lets them go again (unless the backlog holds); a
 * resume of a command that has exited meanwhile reads its pipes to the end and tells the
 * reader (which may free p). */
void sbxd_proc_pause(struct sbxd_proc *p);
void sbxd_proc_resume(struct sbxd_proc *p);
/* The sandbox is paused (hold 1) or resumed (0): its processes' timeouts stop and keep
 * what is left of them, then go on; sbxd's own processes (isolation none) are stopped
 * and continued with SIGSTOP and SIGCONT (an isolated sandbox is frozen as a whole). */
void sbxd_proc_hold_sandbox(struct sbxd_sandbox *box, int hold);
/* The sandbox's running processes, as the process list shows them (a JSON array). */
json_t *sbxd_proc_list(struct sbxd_sandbox *box);
/* Sends `sig` to the process group of the running process `pid` of `box`: 1 when sent,
 * 0 when there is no such running process. */
int sbxd_proc_signal_pid(struct sbxd_sandbox *box, pid_t pid, int sig);
/* Server shutdown: kill and free everything. */
void sbxd_proc_free_all(struct sbxd_server *srv);

#endif
