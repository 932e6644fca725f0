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
#include <unistd.h>
#include "proc.h"
#include "protocol.h"
#include "cgroup.h"
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
static void start_refused(struct sbxd_proc *p, const struct sbxd_err *refusal);
static void still_speaking(struct sbxd_proc *p);

/* ---- output pipes */

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct sbxd_proc *p = h->data;
    *buf = uv_buf_init(p->srv->readbuf, sizeof p->srv->readbuf);
}

/* The pipes are read unless the backlog or the reader holds them. */
static int is_reading(const struct sbxd_proc *p)
{
    return !p->backlogged && !p->held;
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
    if (n > 0) {
        enum sbxd_channel ch = (uv_pipe_t *)s == p->out ? SBXD_STDOUT : SBXD_STDERR;
        /* With no reader left the command is being killed: drain, keep nothing. */
        if (p->reader && sbxd_outlog_append(&p->log, ch, buf->base, (size_t)n) != 0)
            sbxd_proc_kill(p, "out of memory");
        still_speaking(p);
        if (p->log.pending > SBXD_LOG_HIGH && !p->backlogged) {
            int was = is_reading(p);
            p->backlogged = 1;
            apply_reading(p, was);
        }
    } else if (n < 0) {
        if ((uv_pipe_t *)s == p->out) p->out = NULL;
        else p->err = NULL;
        close_handle(s);
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

void sbxd_proc_drained(struct sbxd_proc *p)
{
    still_speaking(p); /* a slow reader's backlog is no silence of the command's */
    if (!p->backlogged || p->log.pending > SBXD_LOG_LOW) return;
    int was = is_reading(p);
    p->backlogged = 0;
    apply_reading(p, was);
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
    if (p->log.pending > 0 || !is_reading(p))
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

int sbxd_proc_finished(const struct sbxd_proc *p)
{
    return sbxd_proc_done(p) && p->log.pending == 0;
}

static void proc_free(struct sbxd_proc *p)
{
    sbx_list_remove(&p->link);
    free(p->what);
    close_handle(p->out);
    close_handle(p->err);
    close_handle(p->timer);
    close_handle(p->idle);
    sbxd_stdin_end(&p->in, 0);
    sbxd_outlog_free(&p->log);
    free(p);
}

/* Something changed: tell the reader, or free a process nobody will read. Either may
 * free p: a caller does not touch it afterwards. */
static void progress(struct sbxd_proc *p)
{
    if (p->reader && sbxd_proc_done(p)) p->reader->ops->on_exited(p->reader);
    else if (p->reader) p->reader->ops->on_output(p->reader);
    else if (sbxd_proc_done(p)) proc_free(p);
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
    if (p->pid) signal_group(p, SIGKILL); /* else at its start */
}

void sbxd_proc_attach(struct sbxd_proc *p, struct sbxd_reader *r)
{
    p->reader = r;
}

void sbxd_proc_detach(struct sbxd_proc *p)
{
    p->reader = NULL;
    sbxd_outlog_free(&p->log);
    sbxd_proc_kill(p, "reader gone");
    /* keep draining the pipes to their EOF */
    int was = is_reading(p);
    p->backlogged = p->held = 0;
    apply_reading(p, was);
    progress(p);
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

struct sbxd_proc *sbxd_proc_find_known(struct sbxd_sandbox *box, pid_t pid)
{
    struct sbxd_proc *found = sbxd_proc_find_pid(box, pid);
    struct sbx_list *n;
    for (n = box->srv->procs.prev; !found && n != &box->srv->procs; n = n->prev)
        if (PROC_OF(n)->box == box && PROC_OF(n)->pid == pid) found = PROC_OF(n);
    return found;
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

void sbxd_proc_kill_sandbox(struct sbxd_sandbox *box, const char *reason)
{
    struct sbx_list *n, *next;
    for (n = box->srv->procs.next; n != &box->srv->procs; n = next) {
        next = n->next;
        struct sbxd_proc *p = PROC_OF(n);
        if (p->box != box || p->exited) {
            if (p->box == box) p->box = NULL;
            continue;
        }
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

static void mark_exited(struct sbxd_proc *p, int status)
{
    p->exited = 1;
    p->srv->running--;
    p->status = status;
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

void sbxd_proc_free_all(struct sbxd_server *srv)
{
    struct sbx_list *n;
    sbx_list_each(n, &srv->procs)
        if (!PROC_OF(n)->exited && PROC_OF(n)->host) kill(-PROC_OF(n)->pid, SIGKILL);
    while (!sbx_list_empty(&srv->procs)) {
        struct sbxd_proc *p = PROC_OF(srv->procs.next);
        if (!p->exited && p->host) waitpid(p->pid, NULL, 0);
        if (p->reader) p->reader->ops->on_gone(p->reader);
        p->reader = NULL;
        proc_free(p);
    }
}

/* What the list shows of it: cmd (its first SBX_LIST_CMD_MAX bytes: a running command
 * holds no more of its request than that), cwd, user and tag, in one allocation. */
static char *describe(const struct sbxd_sandbox *box, const struct sbxd_start_req *req)
{
    const char *parts[4] = {req->cmd, req->cwd ? req->cwd : box->home, req->user ? req->user : "user",
                            req->tag ? req->tag : ""};
    size_t lens[4], len = 0;
    for (int i = 0; i < 4; i++) len += (lens[i] = strlen(parts[i])) + 1;
    if (lens[0] > SBX_LIST_CMD_MAX) len -= lens[0] - SBX_LIST_CMD_MAX, lens[0] = SBX_LIST_CMD_MAX;
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
    p->oom_before = box->cg ? sbxd_cgroup_oom_kills(box->cg) : -1;
    sbxd_stdin_init(&p->in);
    sbx_list_push_back(&srv->procs, &p->link);
    return p;
}

int sbxd_proc_started_yet(const struct sbxd_proc *p)
{
    return p->pid > 0;
}

void sbxd_proc_started(struct sbxd_proc *p, pid_t pid)
{
    p->pid = pid;
    if (p->reason) signal_group(p, SIGKILL);  /* killed while it started */
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
        if (p->reader && sbxd_outlog_append(&p->log, ch, p->srv->readbuf, (size_t)n) != 0) break;
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
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL || p->reason || p->oom_before < 0) return 0;
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
    p->srv->running--;
    sbxd_stdin_end(&p->in, 1);
    close_handle(p->out), close_handle(p->err);
    p->out = p->err = NULL;
    if (p->reader) p->reader->ops->on_start_failed(p->reader, &err); /* detaches: frees p */
    else proc_free(p);
}

void sbxd_proc_start_failed(struct sbxd_proc *p, int step, int e)
{
    struct sbxd_err err;
    sbxd_start_failure(step, e, described(p, 1), &err);
    start_refused(p, &err);
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
    if (req->background) sbxd_stdin_open(&p->in, &srv->loop, sp.in, req->stdin_data, req->stdin_len);
    else sbxd_stdin_feed(&srv->loop, sp.in, req->stdin_data, req->stdin_len);
    if (read_pipe(p, &p->out, sp.out) != 0 || read_pipe(p, &p->err, sp.err) != 0)
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
        if (p->box != box || !p->pid || p->exited) continue;
        const char *tag = described(p, 3);
        json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s, s:s?, s:f}", "pid", (int)p->pid, "cmd",
                                              described(p, 0), "cwd", described(p, 1), "user", described(p, 2),
                                              "tag", *tag ? tag : NULL, "started_at", p->started_at));
    }
    return list;
}

int sbxd_proc_signal_pid(struct sbxd_sandbox *box, pid_t pid, int sig)
{
    struct sbxd_proc *p = sbxd_proc_find_pid(box, pid);
    if (!p) return 0;
    if (sig == SIGKILL) sbxd_proc_kill(p, NULL);
    else signal_group(p, sig);
    return 1;
}
