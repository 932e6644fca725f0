/* Processes: `/bin/sh -c CMD` in its own session, stdio on pipes read through libuv,
 * reaped on SIGCHLD, killed as a whole process group. A process owns its pipes, its
 * output (the log), its exit and its timeout; it knows nothing of how its output is
 * sent. Whoever reads it attaches as a reader (struct sbxd_reader), several at once,
 * each from an offset of its own: the process tells its readers when output is ready and
 * when it has finished, and each reads the log through its cursor; a reader behind by
 * more than the high mark pauses the pipe reads.
 *
 * Without a reader, a background process's pipes are read on (the log drops its oldest
 * bytes past its bound); a foreground one whose start was sent waits --resume-grace for
 * a reader, its pipes held, then is killed. An exited process is kept for attach: a
 * foreground one until --resume-grace after its last reader went, a background one until
 * its sandbox goes, the logs' bound needs the room, or its sandbox keeps too many. */
#ifndef SBXD_PROC_H
#define SBXD_PROC_H
#include "outlog.h"
#include "request.h"
#include "sbxd.h"
#include "stdin.h"
#include "writers.h"

#define SBXD_LOG_HIGH (256u * 1024u)   /* stop reading the pipes above this backlog */
#define SBXD_LOG_LOW  (64u * 1024u)    /* and start again below this */
#define SBXD_HEAVY_READ (1024u * 1024u)/* a heavy writer's pipe size and read size */

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

/* Embedded in the reader's own struct. */
struct sbxd_reader {
    const struct sbxd_reader_ops *ops;
    struct sbx_list link;              /* in its process's readers */
    struct sbxd_cursor cur;            /* the next byte it sends */
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
    int kill_sent;                     /* SIGKILL went to its group, or is due at its start:
                                          it no longer runs, whether reaped yet or not */
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
    uint64_t serial;                   /* sbxd's own number for it, never reused */
    int background;                    /* start{background}: lives on without a reader */
    int start_sent;                    /* a reader sent its start: someone knows its pid */
    int orphan;                        /* killed before anyone knew its pid: nobody attaches */
    struct sbxd_outlog log;
    struct sbx_list readers;           /* struct sbxd_reader.link */
    int notifying;                     /* telling its readers: a detach leaves p be */
    int settle_due;                    /* a detach meanwhile left it without a reader */
    int backlogged;                    /* reads paused: a reader is above the high mark */
    int held;                          /* reads paused (sbxd_proc_pause) */
    int awaiting;                      /* reads paused: a foreground process waits for a reader */
    uv_timer_t *grace;                 /* --resume-grace: waiting for a reader, or release */
    int heavy;                         /* its reads fill the read buffer: they go to `spare` */
    struct sbxd_record *spare;         /* a record of SBXD_HEAVY_READ bytes the next read fills */
    struct sbxd_stdin in;              /* a background or interactive command's open stdin */
    int pty;                           /* runs on a pty: `out` reads its master, `in` writes it */
    unsigned char *pty_in;             /* the start's stdin bytes, until a sandbox's pty master
                                          comes with the init's answer */
    size_t pty_in_len;
    struct sbxd_writers *writers;      /* its sessions' stdin so far (writers.h), or NULL */
    struct sbxd_writers *taken_calls;  /* the keys of its calls taken lately (stdin writes and
                                          closes, signals that reached it), or NULL */
    char start_key[SBXD_WRITER_ID_MAX + 1]; /* its start's key (`?key=`), or "": that start
                                          sent again attaches here, and a signal by the key
                                          reaches it before its pid is known */
};

/* Starts the command of `req` in `box`. NULL with err set when refused or failed. */
struct sbxd_proc *sbxd_proc_start(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
                                  struct sbxd_err *err);
/* Kills the process group with SIGKILL; `reason` goes to the end event. */
void sbxd_proc_kill(struct sbxd_proc *p, const char *reason);
/* Makes `r` a reader of the process, from `offset` (at most the log's end; the log's
 * first offset when it no longer holds that one). */
void sbxd_proc_attach(struct sbxd_proc *p, struct sbxd_reader *r, uint64_t offset);
/* The reader went away. A foreground command left without a reader waits for another,
 * or is killed at once when its start was never sent; an exited one is kept or released
 * (see above). p is not to be used afterwards. */
void sbxd_proc_detach(struct sbxd_proc *p, struct sbxd_reader *r);
/* A reader meant for the process could not attach: it goes on as it would without. */
void sbxd_proc_unattended(struct sbxd_proc *p);
/* A reader sent the process's start: its pid is known. */
void sbxd_proc_start_sent(struct sbxd_proc *p);
/* Bytes the reader has not sent yet. */
uint64_t sbxd_proc_unread(const struct sbxd_proc *p, const struct sbxd_reader *r);
/* The command has exited, both pipes are at EOF and the reader has sent the whole log. */
int sbxd_proc_finished_for(const struct sbxd_proc *p, const struct sbxd_reader *r);
/* The process of `box` to attach to by `pid`: the running one, else the latest kept one;
 * NULL when there is none. */
struct sbxd_proc *sbxd_proc_find_attach(struct sbxd_sandbox *box, pid_t pid);
/* The process of `box` that the start with key `key` began, running or kept; NULL when
 * there is none. */
struct sbxd_proc *sbxd_proc_find_keyed(struct sbxd_sandbox *box, const char *key);
/* The process of `box` that session writer `writer` wrote to (it started or attached to
 * it), running or kept; NULL when there is none. */
struct sbxd_proc *sbxd_proc_find_writer(struct sbxd_sandbox *box, const char *writer);
/* The sandbox is going: kills each of its processes (with `reason`, or NULL) and leaves
 * them without a sandbox. */
void sbxd_proc_kill_sandbox(struct sbxd_sandbox *box, const char *reason);
/* Reaps every exited child (SIGCHLD): the processes of isolation none, and sandboxes'
 * bwraps (whose ends the init's channel reports). */
void sbxd_proc_reap(struct sbxd_server *srv);
/* What a sandbox's init said about a command: it runs as `pid`; it did not start; it
 * exited with a wait status. */
struct sbxd_proc *sbxd_proc_find_start(struct sbxd_sandbox *box, uint32_t seq);
struct sbxd_proc *sbxd_proc_find_pid(struct sbxd_sandbox *box, pid_t pid);
void sbxd_proc_started(struct sbxd_proc *p, pid_t pid);
/* The pty master that came with the init's STARTED (fd, taken; -1 when none came): the
 * process's output is read from it and its stdin written to it. Before sbxd_proc_started. */
void sbxd_proc_take_pty(struct sbxd_proc *p, int fd);
void sbxd_proc_start_failed(struct sbxd_proc *p, int step, int err);
void sbxd_proc_exited(struct sbxd_proc *p, int status);
/* The process has its pid: its start event can go. */
int sbxd_proc_started_yet(const struct sbxd_proc *p);
/* The init has not yet said whether the process started: neither a pid nor an end. */
int sbxd_proc_start_pending(const struct sbxd_proc *p);
/* The command has exited and both pipes are at EOF (the log may still hold bytes). */
int sbxd_proc_done(const struct sbxd_proc *p);
/* A reader moved its cursor on: reads resume when every backlog fell low enough. */
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
/* Sends `sig` to the process group of a running process (SIGKILL: sbxd_proc_kill). A
 * signal other than SIGKILL before the process has its pid goes nowhere. 1 when sent; 0
 * for a process that exited or was sent SIGKILL before (it no longer runs). */
int sbxd_proc_signal(struct sbxd_proc *p, int sig);
/* A pty's new size (TIOCSWINSZ on its master): 0, or -1 without a pty or once its output
 * is over. */
int sbxd_proc_resize(struct sbxd_proc *p, unsigned rows, unsigned cols);
/* The byte that ends input on the process's terminal (its VEOF, ^D by default). */
unsigned char sbxd_proc_eof_char(const struct sbxd_proc *p);
/* Server shutdown: kill and free everything. */
void sbxd_proc_free_all(struct sbxd_server *srv);

#endif
