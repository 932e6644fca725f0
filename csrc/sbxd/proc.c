#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "proc.h"
#include "pty.h"
#include "protocol.h"
#include "cgroup.h"
#include "jbytes.h"
#include "initchan.h"
#include "launch.h"
#include "stdin.h"

static void free_handle(uv_handle_t *h) { free(h); }

static void close_handle(void *h)
{
    if (h) uv_close((uv_handle_t *)h, free_handle);
}

static void progress(struct sbxd_proc *p);
static void mark_exited(struct sbxd_proc *p, int status);
static void drain_if_reading(struct sbxd_proc *p);
static void drain(struct sbxd_proc *p, uv_pipe_t **slot, enum sbxd_channel ch);
static void start_refused(struct sbxd_proc *p, const struct sbxd_err *refusal);
static void still_speaking(struct sbxd_proc *p);
static void keep_log(struct sbxd_proc *p, enum sbxd_channel ch, const void *bytes, size_t n);
static void keep_record(struct sbxd_proc *p, enum sbxd_channel ch, struct sbxd_record *r, size_t n);
static void reading_changed(struct sbxd_proc *p);

/* ---- output pipes */

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Reads land in the server's buffer and are copied into the log; a heavy writer's (one
 * whose reads fill that buffer) land in a record of their own, which joins the log as it
 * is, from a pipe grown to as much (where the kernel lets sbxd): fewer, larger reads
 * and no copy. A read that fills little of it makes the process an ordinary one again. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct sbxd_proc *p = h->data;
    if (p->heavy && !p->spare) p->spare = sbxd_outlog_reserve(SBXD_HEAVY_READ);
    if (p->heavy && p->spare) *buf = uv_buf_init((char *)p->spare->data, SBXD_HEAVY_READ);
    else *buf = uv_buf_init(p->srv->readbuf, sizeof p->srv->readbuf);
}

static void grow_pipe(uv_stream_t *s)
{
    int fd = -1;
    if (uv_fileno((uv_handle_t *)s, &fd) == 0) fcntl(fd, F_SETPIPE_SZ, (int)SBXD_HEAVY_READ); /* best effort */
}

/* A read's bytes into the log: copied from the server's buffer, or the spare record. */
static void log_read(struct sbxd_proc *p, uv_stream_t *s, enum sbxd_channel ch, const uv_buf_t *buf, size_t n)
{
    if (buf->base == p->srv->readbuf) {
        keep_log(p, ch, buf->base, n);
        if (n == sizeof p->srv->readbuf) {
            p->heavy = 1;
            grow_pipe(s);
        }
        return;
    }
    struct sbxd_record *r = p->spare;
    p->spare = NULL;
    if (n < SBXD_HEAVY_READ / 16) p->heavy = 0;
    keep_record(p, ch, r, n);
}

/* The pipes are read unless a reader's backlog, a pause or the wait for a reader holds
 * them. */
static int is_reading(const struct sbxd_proc *p)
{
    return !p->backlogged && !p->held && !p->awaiting;
}

/* Starts or stops the reads when a hold came or went. */
static void apply_reading(struct sbxd_proc *p, int was_reading)
{
    int reading = is_reading(p);
    if (reading == was_reading) return;
    if (reading && p->exited) {
        drain_if_reading(p);
        return;
    }
    if (reading) {
        if (p->out) uv_read_start((uv_stream_t *)p->out, on_alloc, on_read);
        if (p->err) uv_read_start((uv_stream_t *)p->err, on_alloc, on_read);
    } else {
        if (p->out) uv_read_stop((uv_stream_t *)p->out);
        if (p->err) uv_read_stop((uv_stream_t *)p->err);
    }
}

void sbxd_proc_pause(struct sbxd_proc *p)
{
    int was = is_reading(p);
    p->held = 1;
    apply_reading(p, was);
}

void sbxd_proc_resume(struct sbxd_proc *p)
{
    int was = is_reading(p);
    p->held = 0;
    apply_reading(p, was);
    if (!was && p->exited) progress(p); /* its pipes were read to the end just now */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct sbxd_proc *p = s->data;
    enum sbxd_channel ch = (uv_pipe_t *)s == p->out ? SBXD_STDOUT : SBXD_STDERR;
    if (n > 0) {
        log_read(p, s, ch, buf, (size_t)n);
        still_speaking(p);
        reading_changed(p);
    } else if (n < 0) {
        /* The end libuv reports is read to the descriptor's own end: a pty's master
         * reports a hangup as soon as the last slave closes, while what the command wrote
         * last may still be on its way to the master (the kernel moves it later), and
         * libuv takes a hangup after a short read for the end. (A pipe with no writer
         * has nothing more: its read finds the end at once.) */
        drain(p, ch == SBXD_STDOUT ? &p->out : &p->err, ch);
        /* Both pipes closed: the command has most likely just exited. Reaping it here
         * sends the end event without waiting a loop turn for SIGCHLD. */
        int status;
        if (p->host && !p->out && !p->err && !p->exited && waitpid(p->pid, &status, WNOHANG) == p->pid)
            mark_exited(p, status);
    } else {
        return;
    }
    progress(p);
}

static int read_pipe(struct sbxd_proc *p, uv_pipe_t **slot, int fd)
{
    uv_pipe_t *h = malloc(sizeof *h);
    if (!h || uv_pipe_init(&p->srv->loop, h, 0) != 0) return free(h), close(fd), -1;
    h->data = p;
    if (uv_pipe_open(h, fd) != 0) return close(fd), close_handle(h), -1;
    *slot = h;
    return uv_read_start((uv_stream_t *)h, on_alloc, on_read);
}

/* ---- the log and its readers */

#define READER_OF(node) sbx_list_entry(node, struct sbxd_reader, link)

uint64_t sbxd_proc_unread(const struct sbxd_proc *p, const struct sbxd_reader *r)
{
    return p->log.end - r->cur.pos;
}

/* The first byte some reader still needs: nothing from there on is dropped. */
static uint64_t log_floor(const struct sbxd_proc *p)
{
    uint64_t floor = UINT64_MAX;
    struct sbx_list *n;
    sbx_list_each(n, &p->readers) if (READER_OF(n)->cur.pos < floor) floor = READER_OF(n)->cur.pos;
    return floor;
}

/* The backlog marks: SBXD_LOG_HIGH and SBXD_LOG_LOW, or less under a smaller --max-log,
 * so that a reader's backlog fits the log. */
static uint64_t high_mark(const struct sbxd_server *srv)
{
    uint64_t half = srv->max_log / 2;
    return half < SBXD_LOG_HIGH ? (half ? half : 1) : SBXD_LOG_HIGH;
}

static uint64_t low_mark(const struct sbxd_server *srv)
{
    return high_mark(srv) / 4;
}

/* Drops the oldest bytes of p's log that no reader needs, down to `keep`. */
static void trim_log(struct sbxd_proc *p, uint64_t keep)
{
    p->srv->log_bytes -= sbxd_outlog_trim(&p->log, keep, log_floor(p));
}

static void release(struct sbxd_proc *p);

/* The logs' bound (--max-logs): kept processes nobody reads go first, oldest first, then
 * the oldest bytes of background processes nobody reads. What readers still need stays
 * (their backlogs are bounded by the high mark). `self` is the appender: not released. */
static void evict(struct sbxd_server *srv, struct sbxd_proc *self)
{
    struct sbx_list *n, *next;
    sbx_list_each_safe(n, next, &srv->kept) {
        if (srv->log_bytes <= srv->max_logs) return;
        struct sbxd_proc *p = sbx_list_entry(n, struct sbxd_proc, link);
        if (p != self && sbx_list_empty(&p->readers) && !p->notifying) release(p);
    }
    while (srv->log_bytes > srv->max_logs) {
        struct sbxd_proc *oldest = NULL;
        sbx_list_each(n, &srv->procs) {
            struct sbxd_proc *p = sbx_list_entry(n, struct sbxd_proc, link);
            if (p->background && sbx_list_empty(&p->readers) && sbxd_outlog_held(&p->log) &&
                (!oldest || sbxd_outlog_oldest(&p->log) < sbxd_outlog_oldest(&oldest->log)))
                oldest = p;
        }
        if (!oldest) return;
        uint64_t over = srv->log_bytes - srv->max_logs, run = sbxd_outlog_first_run(&oldest->log);
        trim_log(oldest, sbxd_outlog_held(&oldest->log) - (over < run ? over : run));
    }
}

/* Drops what p's log holds past --max-log, and the logs past --max-logs, that no reader
 * needs (p itself is not released). */
static void within_bounds(struct sbxd_proc *p)
{
    struct sbxd_server *srv = p->srv;
    if (sbxd_outlog_held(&p->log) > srv->max_log) trim_log(p, srv->max_log);
    if (srv->log_bytes > srv->max_logs) evict(srv, p);
}

/* The log grew by n bytes: it keeps within its bounds. */
static void kept(struct sbxd_proc *p, size_t n)
{
    p->srv->log_bytes += n;
    within_bounds(p);
}

/* Output read from a pipe goes into the log. */
static void keep_log(struct sbxd_proc *p, enum sbxd_channel ch, const void *bytes, size_t n)
{
    if (sbxd_outlog_append(&p->log, ch, bytes, n, ++p->srv->log_stamp) != 0) sbxd_proc_kill(p, "out of memory");
    else kept(p, n);
}

static void keep_record(struct sbxd_proc *p, enum sbxd_channel ch, struct sbxd_record *r, size_t n)
{
    sbxd_outlog_commit(&p->log, r, SBXD_HEAVY_READ, ch, n, ++p->srv->log_stamp);
    kept(p, n);
}

/* The largest backlog of its readers. */
static uint64_t max_unread(const struct sbxd_proc *p)
{
    uint64_t most = 0;
    struct sbx_list *n;
    sbx_list_each(n, &p->readers) {
        uint64_t u = sbxd_proc_unread(p, READER_OF(n));
        if (u > most) most = u;
    }
    return most;
}

/* The reads stop once a reader is behind by more than the high mark, and go on once every
 * reader is within the low one. */
static void reading_changed(struct sbxd_proc *p)
{
    uint64_t most = max_unread(p);
    int backlogged = p->backlogged ? most > low_mark(p->srv) : most > high_mark(p->srv);
    if (backlogged == p->backlogged) return;
    int was = is_reading(p);
    p->backlogged = backlogged;
    apply_reading(p, was);
}

void sbxd_proc_drained(struct sbxd_proc *p)
{
    still_speaking(p); /* a slow reader's backlog is no silence of the command's */
    if (p->backlogged) reading_changed(p);
}

/* ---- timers */

static void on_timeout(uv_timer_t *t)
{
    sbxd_proc_kill(t->data, "timeout");
}

static uv_timer_t *start_timer(struct sbxd_proc *p, uv_timer_cb cb, uint64_t first_ms, uint64_t repeat_ms)
{
    uv_timer_t *t = malloc(sizeof *t);
    if (!t) return NULL;
    uv_timer_init(&p->srv->loop, t);
    t->data = p;
    uv_timer_start(t, cb, first_ms, repeat_ms);
    return t;
}

/* Silence is the command's only while its output is all taken: bytes its reader has not
 * taken yet, or pipes not read because of them, are speech waiting for a slow reader. */
static void on_idle(uv_timer_t *t)
{
    struct sbxd_proc *p = t->data;
    if (max_unread(p) > 0 || !is_reading(p))
        uv_timer_start(t, on_idle, sbxd_timeout_ms(p->idle_timeout), 0);
    else
        sbxd_proc_kill(p, "timeout");
}

/* The timeouts, once the command runs. */
static void arm_timers(struct sbxd_proc *p)
{
    if (p->timeout > 0) p->timer = start_timer(p, on_timeout, sbxd_timeout_ms(p->timeout), 0);
    if (p->idle_timeout > 0) p->idle = start_timer(p, on_idle, sbxd_timeout_ms(p->idle_timeout), 0);
}

/* A chunk was read or taken: the idle timeout starts over (not while paused). */
static void still_speaking(struct sbxd_proc *p)
{
    if (p->idle && !p->idle_held && !p->exited)
        uv_timer_start(p->idle, on_idle, sbxd_timeout_ms(p->idle_timeout), 0);
}

/* ---- lifecycle */

int sbxd_proc_done(const struct sbxd_proc *p)
{
    return p->exited && !p->out && !p->err;
}

int sbxd_proc_finished_for(const struct sbxd_proc *p, const struct sbxd_reader *r)
{
    return sbxd_proc_done(p) && r->cur.pos == p->log.end;
}

static void free_handle_of(uv_timer_t **t)
{
    close_handle(*t);
    *t = NULL;
}

static void proc_free(struct sbxd_proc *p)
{
    sbx_list_remove(&p->link);
    if (p->exited && p->background && p->box) p->box->kept_background--;
    p->srv->log_bytes -= sbxd_outlog_held(&p->log);
    free(p->what);
    close_handle(p->out);
    close_handle(p->err);
    close_handle(p->timer);
    close_handle(p->idle);
    sbxd_stdin_end(&p->in, 0);
    free_handle_of(&p->grace);
    free(p->spare);
    free(p->pty_in);
    sbxd_writers_free(p->writers);
    sbxd_writers_free(p->taken_calls);
    sbxd_outlog_free(&p->log);
    free(p);
}

/* A kept process goes: its pid is unknown to attach from now on. */
static void release(struct sbxd_proc *p)
{
    proc_free(p);
}

/* The grace timer: started for `seconds`, or stopped (seconds < 0). */
static void on_grace(uv_timer_t *t);

static void set_grace(struct sbxd_proc *p, double seconds)
{
    if (seconds < 0) {
        if (p->grace) uv_timer_stop(p->grace);
        return;
    }
    if (!p->grace) {
        if (!(p->grace = malloc(sizeof *p->grace))) return;
        /* Once: initialising a handle again puts it in the loop's handle queue twice (and
         * an active timer in its heap twice), which corrupts both. The grace is set
         * again for a process that finishes after its wait for a reader began. */
        uv_timer_init(&p->srv->loop, p->grace);
        p->grace->data = p;
    }
    uv_timer_start(p->grace, on_grace, seconds > 0 ? sbxd_timeout_ms(seconds) : 0, 0);
}

/* No reader is attached. A finished process is kept for a later attach, or released;
 * a running foreground one whose pid someone knows, or whose start had a key (the start
 * sent again attaches), waits for a reader, its pipes held; one nobody can name is
 * killed; a background one reads on. May free p. */
static void settle(struct sbxd_proc *p)
{
    int was = is_reading(p);
    p->backlogged = 0;
    if (sbxd_proc_done(p)) {
        if (!p->box || p->orphan) proc_free(p);
        else if (!p->background) set_grace(p, p->srv->resume_grace);
        return;
    }
    if (!p->background && !p->start_sent && !p->start_key[0]) {
        p->orphan = 1;
        sbxd_proc_kill(p, "reader gone");
    } else if (!p->background) {
        p->awaiting = 1; /* an exited one's pipes too: what they hold is its output */
        set_grace(p, p->srv->resume_grace);
    }
    apply_reading(p, was);
    if (!was && is_reading(p) && p->exited) progress(p); /* its pipes were read to the end */
}

/* The wait for a reader is over: a running command is killed, and its pipes are read to
 * their end; a finished process is released. */
static void on_grace(uv_timer_t *t)
{
    struct sbxd_proc *p = t->data;
    if (sbxd_proc_done(p)) {
        release(p);
        return;
    }
    sbxd_proc_kill(p, "reader gone");
    int was = is_reading(p);
    p->awaiting = 0;
    apply_reading(p, was);
    if (!was && is_reading(p) && p->exited) progress(p);
}

/* Settles a finished process that no reader reads. */
static void settle_if_done(struct sbxd_proc *p)
{
    if (sbxd_proc_done(p) && !p->notifying) settle(p);
}

/* Something changed: tell the readers, or settle a process nobody reads. Either may free
 * p: a caller does not touch it afterwards. A reader that detaches while told leaves
 * the settling to the end of the round. */
static void progress(struct sbxd_proc *p)
{
    if (sbx_list_empty(&p->readers)) {
        settle_if_done(p);
        return;
    }
    int done = sbxd_proc_done(p);
    struct sbx_list *n, *next;
    p->notifying++;
    sbx_list_each_safe(n, next, &p->readers) {
        struct sbxd_reader *r = READER_OF(n);
        if (done) r->ops->on_exited(r);
        else r->ops->on_output(r);
    }
    if (--p->notifying == 0 && p->settle_due) {
        p->settle_due = 0;
        if (sbx_list_empty(&p->readers)) settle(p);
    }
}

/* A signal to the command's process group: sbxd's own child, or through the init. */
static void signal_group(struct sbxd_proc *p, int sig)
{
    if (p->host) kill(-p->pid, sig);
    else if (p->box && p->box->chan) sbxd_initchan_signal(p->box->chan, p->pid, sig);
}

void sbxd_proc_kill(struct sbxd_proc *p, const char *reason)
{
    if (p->exited) return;
    if (!p->reason) p->reason = reason;
    p->kill_sent = 1;
    if (p->pid) signal_group(p, SIGKILL); /* else at its start */
}

void sbxd_proc_attach(struct sbxd_proc *p, struct sbxd_reader *r, uint64_t offset)
{
    sbxd_outlog_seek(&p->log, &r->cur, offset);
    sbx_list_push_back(&p->readers, &r->link);
    set_grace(p, -1);
    int was = is_reading(p);
    p->awaiting = 0;
    apply_reading(p, was);
    reading_changed(p);
}

void sbxd_proc_detach(struct sbxd_proc *p, struct sbxd_reader *r)
{
    sbx_list_remove(&r->link);
    /* What the reader still needed was kept past the bounds (the floor): no longer. A
     * process that has exited appends nothing that would trim it later. */
    within_bounds(p);
    if (!sbx_list_empty(&p->readers)) {
        reading_changed(p);
        return;
    }
    if (p->notifying) p->settle_due = 1;
    else settle(p);
}

void sbxd_proc_unattended(struct sbxd_proc *p)
{
    if (sbx_list_empty(&p->readers) && !p->notifying) settle(p);
}

void sbxd_proc_start_sent(struct sbxd_proc *p)
{
    p->start_sent = 1;
}

#define PROC_OF(node) sbx_list_entry(node, struct sbxd_proc, link)

/* A process that has not exited: of `box`, or with `box` NULL one of sbxd's own children
 * (isolation none); by its pid, or with `pid` 0 one still starting, by its start's seq. */
static struct sbxd_proc *find_live(struct sbxd_server *srv, const struct sbxd_sandbox *box, pid_t pid,
                                   uint32_t seq)
{
    struct sbx_list *n;
    sbx_list_each(n, &srv->procs) {
        struct sbxd_proc *p = PROC_OF(n);
        if (p->exited || (box ? p->box != box : !p->host)) continue;
        if (pid ? p->pid == pid : !p->pid && p->seq == seq) return p;
    }
    return NULL;
}

struct sbxd_proc *sbxd_proc_find_start(struct sbxd_sandbox *box, uint32_t seq)
{
    return find_live(box->srv, box, 0, seq);
}

struct sbxd_proc *sbxd_proc_find_pid(struct sbxd_sandbox *box, pid_t pid)
{
    return pid > 0 ? find_live(box->srv, box, pid, 0) : NULL;
}

struct sbxd_proc *sbxd_proc_find_attach(struct sbxd_sandbox *box, pid_t pid)
{
    struct sbxd_proc *p = sbxd_proc_find_pid(box, pid);
    if (p || pid <= 0) return p;
    struct sbx_list *n;
    for (n = box->srv->kept.prev; n != &box->srv->kept; n = n->prev) {
        p = PROC_OF(n);
        if (p->box == box && p->pid == pid && !p->orphan) return p;
    }
    return NULL;
}

/* The first process of `box`, running or kept, that `named` says `name` names. */
static struct sbxd_proc *find_named(struct sbxd_sandbox *box, int (*named)(const struct sbxd_proc *, const char *),
                                    const char *name)
{
    struct sbx_list *lists[] = {&box->srv->procs, &box->srv->kept};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        for (struct sbx_list *n = lists[i]->next; n != lists[i]; n = n->next) {
            struct sbxd_proc *p = PROC_OF(n);
            if (p->box == box && !p->orphan && named(p, name)) return p;
        }
    return NULL;
}

static int has_start_key(const struct sbxd_proc *p, const char *key)
{
    return !strcmp(p->start_key, key);
}

static int has_writer(const struct sbxd_proc *p, const char *writer)
{
    return sbxd_writer_find(p->writers, writer) != NULL;
}

struct sbxd_proc *sbxd_proc_find_keyed(struct sbxd_sandbox *box, const char *key)
{
    return find_named(box, has_start_key, key);
}

struct sbxd_proc *sbxd_proc_find_writer(struct sbxd_sandbox *box, const char *writer)
{
    return find_named(box, has_writer, writer);
}

/* The sandbox died with it: killed by SIGKILL, like everything in it; or it never
 * started (`failure` says why), or was killed before the command did. */
static void died_with_sandbox(struct sbxd_proc *p, const char *failure)
{
    struct sbxd_err err;
    if (p->pid) {
        sbxd_proc_exited(p, SIGKILL);
        return;
    }
    if (failure) sbxd_fail(&err, 500, SBX_ERR_SANDBOX, "%s", failure);
    else sbxd_fail(&err, 404, SBX_ERR_NOT_FOUND, "the sandbox was killed before the command started");
    start_refused(p, &err);
}

/* The sandbox is gone: so are its kept processes, once no reader reads them. */
static void release_kept(struct sbxd_sandbox *box)
{
    struct sbx_list *n, *next;
    sbx_list_each_safe(n, next, &box->srv->kept) {
        struct sbxd_proc *p = PROC_OF(n);
        if (p->box != box) continue;
        p->box = NULL;
        if (sbx_list_empty(&p->readers) && !p->notifying) proc_free(p);
    }
}

void sbxd_proc_kill_sandbox(struct sbxd_sandbox *box, const char *reason)
{
    struct sbx_list *n, *next;
    release_kept(box);
    for (n = box->srv->procs.next; n != &box->srv->procs; n = next) {
        next = n->next;
        struct sbxd_proc *p = PROC_OF(n);
        if (p->box != box) continue;
        if (!p->reason) p->reason = reason;
        if (p->host) {
            sbxd_proc_kill(p, reason);
            p->box = NULL;
        } else {
            p->box = NULL;
            died_with_sandbox(p, box->failure); /* may free p, never another process */
        }
    }
}

/* A sandbox keeps at most SBX_MAX_KEPT_BACKGROUND exited background processes: the
 * oldest that no reader reads go. */
static void keep_background(struct sbxd_sandbox *box)
{
    box->kept_background++;
    struct sbx_list *n, *next;
    sbx_list_each_safe(n, next, &box->srv->kept) {
        if (box->kept_background <= SBX_MAX_KEPT_BACKGROUND) return;
        struct sbxd_proc *p = PROC_OF(n);
        if (p->box == box && p->background && sbx_list_empty(&p->readers) && !p->notifying) release(p);
    }
}

/* It leaves the running processes for the kept ones. */
static void mark_exited(struct sbxd_proc *p, int status)
{
    p->exited = 1;
    p->srv->running--;
    p->status = status;
    sbx_list_remove(&p->link);
    sbx_list_push_back(&p->srv->kept, &p->link);
    if (p->background && p->box) keep_background(p->box);
    /* The group may hold stragglers (a backgrounded child): they go with it. (In a
     * sandbox the init does this.) */
    if (p->host) kill(-p->pid, SIGKILL);
    sbxd_stdin_end(&p->in, 1);
    if (p->timer) uv_timer_stop(p->timer);
    if (p->idle) uv_timer_stop(p->idle);
}

void sbxd_proc_reap(struct sbxd_server *srv)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct sbxd_proc *p = find_live(srv, NULL, pid, 0);
        if (p) sbxd_proc_exited(p, status);
    }
}

static void free_list(struct sbx_list *list)
{
    while (!sbx_list_empty(list)) {
        struct sbxd_proc *p = PROC_OF(list->next);
        if (!p->exited && p->host) waitpid(p->pid, NULL, 0);
        while (!sbx_list_empty(&p->readers)) {
            struct sbxd_reader *r = READER_OF(p->readers.next);
            sbx_list_remove(&r->link);
            r->ops->on_gone(r);
        }
        proc_free(p);
    }
}

void sbxd_proc_free_all(struct sbxd_server *srv)
{
    struct sbx_list *n;
    sbx_list_each(n, &srv->procs)
        if (!PROC_OF(n)->exited && PROC_OF(n)->host) kill(-PROC_OF(n)->pid, SIGKILL);
    free_list(&srv->procs);
    free_list(&srv->kept);
}

/* What the list shows of it: cmd (its first SBX_LIST_CMD_MAX bytes: a running command
 * holds no more of its request than that), cwd, user and tag, in one allocation. */
static char *describe(const struct sbxd_sandbox *box, const struct sbxd_start_req *req)
{
    const char *parts[4] = {req->cmd, req->cwd ? req->cwd : box->home, req->user ? req->user : "user",
                            req->tag ? req->tag : ""};
    size_t lens[4], len = 0;
    for (int i = 0; i < 4; i++) len += (lens[i] = strlen(parts[i])) + 1;
    if (lens[0] > SBX_LIST_CMD_MAX) {
        size_t cut = SBX_LIST_CMD_MAX;
        /* not inside a UTF-8 character: a command that is text stays text */
        while (cut > 0 && ((unsigned char)req->cmd[cut] & 0xC0) == 0x80) cut--;
        len -= lens[0] - cut, lens[0] = cut;
    }
    char *what = malloc(len), *at = what;
    for (int i = 0; what && i < 4; i++) {
        memcpy(at, parts[i], lens[i]);
        at[lens[i]] = '\0';
        at += lens[i] + 1;
    }
    return what;
}

/* Field i (0 cmd, 1 cwd, 2 user, 3 tag) of what describe() made. */
static const char *described(const struct sbxd_proc *p, int i)
{
    const char *f = p->what;
    while (i-- > 0) f += strlen(f) + 1;
    return f;
}

static struct sbxd_proc *proc_new(struct sbxd_sandbox *box, const struct sbxd_spawned *sp,
                                  const struct sbxd_start_req *req)
{
    struct sbxd_proc *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (!(p->what = describe(box, req))) return free(p), NULL;
    p->started_at = sbxd_now();
    struct sbxd_server *srv = box->srv;
    p->srv = srv;
    p->box = box;
    p->pid = sp->pid;
    p->host = sp->pid > 0;
    p->seq = sp->seq;
    p->serial = ++srv->next_serial;
    p->background = req->background;
    sbx_list_init(&p->readers);
    p->oom_before = box->cg ? sbxd_cgroup_oom_kills(box->cg) : -1;
    sbxd_stdin_init(&p->in);
    sbx_list_push_back(&srv->procs, &p->link);
    return p;
}

int sbxd_proc_started_yet(const struct sbxd_proc *p)
{
    return p->pid > 0;
}

int sbxd_proc_start_pending(const struct sbxd_proc *p)
{
    return !p->pid && !p->exited;
}

void sbxd_proc_started(struct sbxd_proc *p, pid_t pid)
{
    p->pid = pid;
    if (p->kill_sent) signal_group(p, SIGKILL);  /* killed while it started */
    else arm_timers(p);
    progress(p);
}

/* The rest of what a pipe holds, read now: the command has exited, so what it wrote is
 * there, and what a process it left behind writes later is not its output. */
static void drain(struct sbxd_proc *p, uv_pipe_t **slot, enum sbxd_channel ch)
{
    uv_pipe_t *h = *slot;
    if (!h) return;
    int fd = -1;
    uv_fileno((uv_handle_t *)h, &fd);
    ssize_t n;
    while (fd >= 0 && (n = read(fd, p->srv->readbuf, sizeof p->srv->readbuf)) > 0)
        keep_log(p, ch, p->srv->readbuf, (size_t)n);
    *slot = NULL;
    close_handle(h);
}

/* Once the command has exited and its pipes may be read (the reader does not hold them),
 * what they hold is read and they are closed. */
static void drain_if_reading(struct sbxd_proc *p)
{
    if (!p->exited || !is_reading(p)) return;
    drain(p, &p->out, SBXD_STDOUT);
    drain(p, &p->err, SBXD_STDERR);
}

/* A SIGKILL the kernel sent for the sandbox's memory limit: its OOM kills went up
 * while the command ran. */
static int killed_by_memory_limit(const struct sbxd_proc *p, int status)
{
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL || p->reason || p->kill_sent ||
        p->oom_before < 0)
        return 0;
    return p->box && p->box->cg && sbxd_cgroup_oom_kills(p->box->cg) > p->oom_before;
}

void sbxd_proc_exited(struct sbxd_proc *p, int status)
{
    if (killed_by_memory_limit(p, status)) p->reason = "memory_limit";
    mark_exited(p, status);
    drain_if_reading(p);
    progress(p);
}

static void start_refused(struct sbxd_proc *p, const struct sbxd_err *refusal)
{
    struct sbxd_err err = *refusal;
    p->exited = 1;
    p->orphan = 1;
    p->srv->running--;
    sbxd_stdin_end(&p->in, 1);
    close_handle(p->out), close_handle(p->err);
    p->out = p->err = NULL;
    struct sbxd_reader *r = sbx_list_empty(&p->readers) ? NULL : READER_OF(p->readers.next);
    if (r) r->ops->on_start_failed(r, &err); /* its only reader, the starter: detaches, frees p */
    else proc_free(p);
}

void sbxd_proc_start_failed(struct sbxd_proc *p, int step, int e)
{
    struct sbxd_err err;
    sbxd_start_failure(step, e, described(p, 1), &err);
    start_refused(p, &err);
}

/* A command's stdin gets the start's bytes then EOF, unless it stays open for the stdin
 * route (sbxd_start_keeps_stdin). A sandbox's pty has no descriptor yet: its bytes wait
 * for the master. -1 when out of memory. */
static int open_stdin(struct sbxd_proc *p, const struct sbxd_start_req *req, int fd)
{
    uv_loop_t *loop = &p->srv->loop;
    if (!sbxd_start_keeps_stdin(req)) {
        sbxd_stdin_feed(loop, fd, req->stdin_data, req->stdin_len);
        return 0;
    }
    if (fd >= 0 || !req->pty) {
        sbxd_stdin_open(&p->in, loop, fd, req->stdin_data, req->stdin_len);
        return 0;
    }
    if (!req->stdin_len) return 0;
    if (!(p->pty_in = malloc(req->stdin_len))) return -1;
    memcpy(p->pty_in, req->stdin_data, req->stdin_len);
    p->pty_in_len = req->stdin_len;
    return 0;
}

void sbxd_proc_take_pty(struct sbxd_proc *p, int fd)
{
    if (!p->pty || p->out || p->exited) {
        if (fd >= 0) close(fd);
        return;
    }
    int in = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
    if (in >= 0) sbxd_stdin_open(&p->in, &p->srv->loop, in, p->pty_in, p->pty_in_len);
    free(p->pty_in);
    p->pty_in = NULL;
    p->pty_in_len = 0;
    if (fd < 0 || in < 0 || read_pipe(p, &p->out, fd) != 0) {
        if (fd >= 0 && in < 0) close(fd);
        sbxd_proc_kill(p, "pipe failure");
    }
}

struct sbxd_proc *sbxd_proc_start(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
                                  struct sbxd_err *err)
{
    struct sbxd_server *srv = box->srv;
    if (srv->running >= srv->max_procs) {
        sbxd_fail(err, 429, SBX_ERR_SANDBOX, "too many processes: at most %d run at once (--max-procs)",
                  srv->max_procs);
        return NULL;
    }
    struct sbxd_spawned sp;
    if (sbxd_spawn(box, req, &sp, err) != 0) return NULL;
    struct sbxd_proc *p = proc_new(box, &sp, req);
    if (!p) {
        if (sp.pid) kill(-sp.pid, SIGKILL); /* in a sandbox, its pipes close: it ends on its own */
        if (sp.in >= 0) close(sp.in);
        close(sp.out), close(sp.err);
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
        return NULL;
    }
    box->srv->running++;
    p->pty = req->pty;
    if (open_stdin(p, req, sp.in) != 0 || (sp.out >= 0 && read_pipe(p, &p->out, sp.out) != 0) ||
        (sp.err >= 0 && read_pipe(p, &p->err, sp.err) != 0))
        sbxd_proc_kill(p, "pipe failure");
    p->timeout = req->timeout;
    p->idle_timeout = req->idle_timeout;
    if (p->pid) arm_timers(p);
    return p;
}

/* A timeout stopped with what it had left (hold), or going on from there. */
static void hold_timer(uv_timer_t *t, uv_timer_cb cb, uint64_t *left, int *held, int hold)
{
    if (hold && t && uv_is_active((uv_handle_t *)t)) {
        *left = uv_timer_get_due_in(t);
        uv_timer_stop(t);
        *held = 1;
    } else if (!hold && *held) {
        uv_timer_start(t, cb, *left ? *left : 1, 0);
        *held = 0;
    }
}

void sbxd_proc_hold_sandbox(struct sbxd_sandbox *box, int hold)
{
    struct sbx_list *n;
    sbx_list_each(n, &box->srv->procs) {
        struct sbxd_proc *p = PROC_OF(n);
        if (p->box != box || p->exited) continue;
        hold_timer(p->timer, on_timeout, &p->timer_left, &p->timer_held, hold);
        hold_timer(p->idle, on_idle, &p->idle_left, &p->idle_held, hold);
        if (p->host && p->pid) kill(-p->pid, hold ? SIGSTOP : SIGCONT);
    }
}

json_t *sbxd_proc_list(struct sbxd_sandbox *box)
{
    json_t *list = json_array();
    struct sbx_list *n;
    sbx_list_each(n, &box->srv->procs) {
        const struct sbxd_proc *p = PROC_OF(n);
        if (p->box != box || !p->pid || p->exited || p->kill_sent) continue;
        const char *tag = described(p, 3);
        /* cmd and cwd are bytes: text, or {"base64": ...} (jbytes.h) */
        json_array_append_new(list, json_pack("{s:i, s:o, s:o, s:s, s:s?, s:f}", "pid", (int)p->pid, "cmd",
                                              sbxd_bytes_json(described(p, 0)), "cwd",
                                              sbxd_bytes_json(described(p, 1)), "user", described(p, 2),
                                              "tag", *tag ? tag : NULL, "started_at", p->started_at));
    }
    return list;
}

int sbxd_proc_signal(struct sbxd_proc *p, int sig)
{
    if (p->exited || p->kill_sent) return 0;
    if (sig == SIGKILL) sbxd_proc_kill(p, NULL);
    else if (p->pid) signal_group(p, sig);
    else return 0;
    return 1;
}

/* The pty master's descriptor while its output is read; -1 otherwise. */
static int pty_master(const struct sbxd_proc *p)
{
    int fd = -1;
    if (!p->pty || !p->out || uv_fileno((const uv_handle_t *)p->out, &fd) != 0) return -1;
    return fd;
}

int sbxd_proc_resize(struct sbxd_proc *p, unsigned rows, unsigned cols)
{
    int fd = pty_master(p);
    return fd >= 0 ? sbxd_pty_resize(fd, rows, cols) : -1;
}

unsigned char sbxd_proc_eof_char(const struct sbxd_proc *p)
{
    struct termios t;
    int fd = pty_master(p);
    if (fd >= 0 && tcgetattr(fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE) return t.c_cc[VEOF];
    return 4; /* ^D, the default */
}
