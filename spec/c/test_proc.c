/* The process layer on its own: commands started through it on a plain libuv loop, read
 * by readers of the test's own, with no HTTP anywhere (this test links no
 * libwebsockets). Checks the bytes of each channel, the exit code, that a paused
 * reader, or a backlog it does not take, stops the pipe reads, that a second reader reads
 * from an offset of its own, and that a background process without a reader reads on
 * within its log's bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../csrc/sbxd/launch.h"
#include "../../csrc/sbxd/proc.h"
#include "check.h"
#include "protocol.h"

struct test_reader {
    struct sbxd_reader reader;     /* first: the process hands this back */
    struct sbxd_proc *proc;        /* NULL once detached */
    int take;                      /* takes what is logged as it comes */
    char out[1 << 22], err[256];
    size_t out_len, err_len;
    int news, finished, exit_status;
};

static void take_all(struct test_reader *t)
{
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n;
    while ((n = sbxd_outlog_read(&t->proc->log, &t->reader.cur, 65536, &ch, &bytes)) > 0) {
        char *dst = ch == SBXD_STDOUT ? t->out : t->err;
        size_t *len = ch == SBXD_STDOUT ? &t->out_len : &t->err_len;
        size_t cap = ch == SBXD_STDOUT ? sizeof t->out : sizeof t->err;
        size_t keep = *len + n <= cap ? n : cap - *len;
        memcpy(dst + *len, bytes, keep);
        *len += keep;
        sbxd_outlog_advance(&t->reader.cur, n);
        sbxd_proc_drained(t->proc);
    }
}

static void on_news(struct sbxd_reader *r)
{
    struct test_reader *t = (struct test_reader *)r;
    t->news++;
    if (t->take) take_all(t);
}

/* Everything is in: take it, note the exit, and let the process go. */
static void on_exited(struct sbxd_reader *r)
{
    struct test_reader *t = (struct test_reader *)r;
    if (!t->take) return;
    take_all(t);
    if (!sbxd_proc_finished_for(t->proc, &t->reader)) return;
    t->finished = 1;
    t->exit_status = t->proc->status;
    struct sbxd_proc *p = t->proc;
    t->proc = NULL;
    sbxd_proc_detach(p, &t->reader); /* kept for --resume-grace (0 here), then freed */
}

static void on_gone(struct sbxd_reader *r)
{
    ((struct test_reader *)r)->proc = NULL;
}

/* A process of sbxd's own starts at once: there is no init to refuse it later. */
static void on_start_failed(struct sbxd_reader *r, const struct sbxd_err *err)
{
    (void)r, (void)err;
    CHECK(0, "no start fails later without an init");
}

static const struct sbxd_reader_ops TEST_OPS = {on_news, on_exited, on_gone, on_start_failed};

static struct sbxd_server srv;
static struct sbxd_sandbox box;
static uv_timer_t reaper;

static void on_reap(uv_timer_t *t)
{
    sbxd_proc_reap(t->data);
}

/* Starts `cmd`, in the background or with t as its reader. */
static struct sbxd_proc *start_as(struct test_reader *t, const char *cmd, int background)
{
    memset(t, 0, sizeof *t);
    t->reader.ops = &TEST_OPS;
    struct sbxd_start_req req = {.cmd = cmd, .background = background};
    struct sbxd_err err = {0};
    struct sbxd_proc *p = sbxd_proc_start(&box, &req, &err);
    CHECK(p != NULL, "%s: %d %s", cmd, err.status, err.message);
    if (p && !background) sbxd_proc_attach(t->proc = p, &t->reader, 0);
    return p;
}

static void start(struct test_reader *t, const char *cmd)
{
    start_as(t, cmd, 0);
}

/* Attaches t to p from `offset`, taking what comes. */
static void attach(struct test_reader *t, struct sbxd_proc *p, uint64_t offset)
{
    memset(t, 0, sizeof *t);
    t->reader.ops = &TEST_OPS;
    t->take = 1;
    sbxd_proc_attach(t->proc = p, &t->reader, offset);
    take_all(t);
    if (sbxd_proc_done(p)) on_exited(&t->reader); /* a finished one tells no more news */
}

/* Runs the loop until *flag is set or `ms` have passed. */
static void run_until(const int *flag, uint64_t ms)
{
    uint64_t until = uv_now(&srv.loop) + ms;
    while (!(flag && *flag) && uv_now(&srv.loop) < until) uv_run(&srv.loop, UV_RUN_ONCE);
}

static struct test_reader tr;

static void test_output_and_exit(void)
{
    start(&tr, "printf hello; printf oops >&2; printf ' world'; exit 3");
    tr.take = 1;
    run_until(&tr.finished, 10000);
    CHECK(tr.finished, "the command finished");
    CHECK(tr.out_len == 11 && memcmp(tr.out, "hello world", 11) == 0, "stdout: %.*s",
          (int)tr.out_len, tr.out);
    CHECK(tr.err_len == 4 && memcmp(tr.err, "oops", 4) == 0, "stderr: %.*s", (int)tr.err_len, tr.err);
    CHECK(WIFEXITED(tr.exit_status) && WEXITSTATUS(tr.exit_status) == 3, "status %d", tr.exit_status);
    run_until(NULL, 20);
    CHECK(sbx_list_empty(&srv.kept), "and freed after --resume-grace (0)");
}

/* A paused reader: the pipes are not read, whatever the command wrote waits in them. */
static void test_pause(void)
{
    start(&tr, "printf 0123456789");
    sbxd_proc_pause(tr.proc);
    run_until(NULL, 300);
    CHECK(tr.proc->log.end == 0, "nothing read while paused: %llu bytes",
          (unsigned long long)tr.proc->log.end);
    CHECK(tr.proc->out != NULL, "stdout not at EOF while paused");
    tr.take = 1;
    sbxd_proc_resume(tr.proc);
    run_until(&tr.finished, 10000);
    CHECK(tr.finished && tr.out_len == 10 && memcmp(tr.out, "0123456789", 10) == 0,
          "after resume: %.*s", (int)tr.out_len, tr.out);
}

/* A reader that takes nothing: reading stops once the log holds SBXD_LOG_HIGH (and one
 * read more: a heavy writer's reads are up to SBXD_HEAVY_READ), and goes on, to the end,
 * once the reader takes it. The command writes more than the pipe and the log hold. */
static void test_backlog(void)
{
    start(&tr, "head -c 3000000 /dev/zero");
    run_until(NULL, 500);
    size_t held = sbxd_proc_unread(tr.proc, &tr.reader);
    CHECK(held > SBXD_LOG_HIGH && held <= SBXD_LOG_HIGH + SBXD_HEAVY_READ,
          "the backlog stops at its mark: %zu bytes", held);
    CHECK(tr.proc->backlogged && tr.proc->out != NULL, "reads paused, stdout open");
    tr.take = 1;
    take_all(&tr);
    run_until(&tr.finished, 10000);
    CHECK(tr.finished && tr.out_len == 3000000, "all of it in the end: %zu bytes", tr.out_len);
    CHECK(WIFEXITED(tr.exit_status) && WEXITSTATUS(tr.exit_status) == 0, "status %d", tr.exit_status);
}

static struct test_reader second;

/* A second reader from an offset of its own gets exactly the bytes from there, while the
 * first one reads everything; both see the end. */
static void test_second_reader(void)
{
    start(&tr, "printf 0123456789; sleep 0.2; printf abc >&2");
    tr.take = 1;
    run_until(NULL, 100);
    CHECK(tr.out_len == 10, "the first reader has the first bytes: %zu", tr.out_len);
    attach(&second, tr.proc, 4);
    CHECK(second.out_len == 6 && memcmp(second.out, "456789", 6) == 0, "from 4: %.*s", (int)second.out_len,
          second.out);
    run_until(&second.finished, 10000);
    run_until(&tr.finished, 10000);
    CHECK(tr.finished && second.finished, "both saw the end");
    CHECK(second.err_len == 3 && memcmp(second.err, "abc", 3) == 0, "and what came later: %.*s",
          (int)second.err_len, second.err);
    CHECK(tr.out_len == 10 && tr.err_len == 3, "the first one has all of it");
}

/* A background process without a reader is read on; its log keeps the last --max-log
 * bytes, and a reader attaching from 0 starts where the log is whole. */
static void test_background_bound(void)
{
    srv.max_log = 100000;
    struct sbxd_proc *p = start_as(&tr, "head -c 1000000 /dev/zero; printf end", 1);
    run_until(NULL, 100);
    for (int i = 0; i < 500 && (p->out || !p->exited); i++) run_until(NULL, 20);
    CHECK(sbxd_outlog_held(&p->log) == 100000 && p->log.end == 1000003, "the bound holds: %llu of %llu",
          (unsigned long long)sbxd_outlog_held(&p->log), (unsigned long long)p->log.end);
    CHECK(srv.log_bytes == 100000, "all logs hold %llu", (unsigned long long)srv.log_bytes);
    attach(&second, p, 0);
    CHECK(second.reader.cur.pos == 1000003 && second.out_len == 100000, "read from %llu",
          (unsigned long long)(1000003 - second.out_len));
    CHECK(memcmp(second.out + 99997, "end", 3) == 0, "the tail is whole");
    run_until(&second.finished, 1000);
    CHECK(second.finished, "and ends");
    srv.max_log = SBX_DEFAULT_MAX_LOG;
}

/* A reader of a background process holds the log's bytes from its place on (the floor),
 * past --max-log. Here it takes the first write, and the second, which waited in the pipe
 * meanwhile, is read after it, while the reader stays where it was. When that reader
 * leaves a finished process, nothing more comes to trim the log: its leaving does. */
static void test_reader_leaving_trims(void)
{
    srv.max_log = 20000; /* its backlog mark is 10000: the first write holds the reads */
    char cmd[512], go[256];
    snprintf(go, sizeof go, "%s/go", box.dir);
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero bs=20000 count=1 2>/dev/null; "
             "while [ ! -e '%s' ]; do sleep 0.01; done; dd if=/dev/zero bs=40000 count=1 2>/dev/null", go);
    struct sbxd_proc *p = start_as(&tr, cmd, 1);
    sbxd_proc_attach(tr.proc = p, &tr.reader, 0);
    for (int i = 0; i < 500 && !p->backlogged; i++) run_until(NULL, 10);
    FILE *f = fopen(go, "w");
    if (f) fclose(f);
    for (int i = 0; i < 500 && !p->exited; i++) run_until(NULL, 10);
    CHECK(p->exited && p->backlogged && p->log.end == 20000, "the command ended, the second write unread");
    enum sbxd_channel ch;
    const unsigned char *bytes;
    while (tr.reader.cur.pos < 20000)
        sbxd_outlog_advance(&tr.reader.cur, sbxd_outlog_read(&p->log, &tr.reader.cur, 65536, &ch, &bytes));
    sbxd_proc_drained(p); /* the reads go on: the pipe, read to its end */
    for (int i = 0; i < 500 && p->out; i++) run_until(NULL, 10);
    CHECK(p->log.end == 60000 && sbxd_outlog_held(&p->log) == 40000, "held from the reader's place on: %llu",
          (unsigned long long)sbxd_outlog_held(&p->log));
    tr.proc = NULL;
    sbxd_proc_detach(p, &tr.reader);
    CHECK(sbxd_outlog_held(&p->log) == 20000 && p->log.start == 40000, "the bound holds once it left: %llu",
          (unsigned long long)sbxd_outlog_held(&p->log));
    srv.max_log = SBX_DEFAULT_MAX_LOG;
    unlink(go);
    run_until(NULL, 20); /* the closed pipes freed */
}

static void count_handle(uv_handle_t *h, void *n)
{
    (void)h;
    ++*(int *)n;
}

/* The loop's handles, walked: a handle initialized twice is in its queue twice (and once
 * freed, the walk reads freed memory: the sanitizer run reports it). */
static int loop_handles(void)
{
    int n = 0;
    uv_walk(&srv.loop, count_handle, &n);
    return n;
}

/* Whether p is on the list (compared as a pointer: p may be freed). */
static int listed(struct sbx_list *list, const struct sbxd_proc *p)
{
    struct sbx_list *n;
    sbx_list_each(n, list) {
        if (sbx_list_entry(n, struct sbxd_proc, link) == p) return 1;
    }
    return 0;
}

/* A foreground process whose reader went: its resume grace runs out, it is killed, its
 * pipes read to their end, and its grace starts over for its release, on the same timer;
 * once released, the loop holds the handles it held before it started. */
static void test_grace_restarted(void)
{
    srv.resume_grace = 0.05;
    int before = loop_handles();
    struct sbxd_proc *p = start_as(&tr, "sleep 30", 0);
    sbxd_proc_start_sent(p);
    sbxd_proc_detach(p, &tr.reader);
    CHECK(p->grace && uv_is_active((uv_handle_t *)p->grace), "the grace runs");
    for (int i = 0; i < 500 && listed(&srv.procs, p); i++) run_until(NULL, 10);
    CHECK(!listed(&srv.procs, p) && listed(&srv.kept, p), "killed when its grace ran out");
    for (int i = 0; i < 500 && listed(&srv.kept, p); i++) run_until(NULL, 10);
    CHECK(!listed(&srv.kept, p), "released a grace after its end");
    run_until(NULL, 20); /* the closed handles freed */
    CHECK(loop_handles() == before, "the loop's handles: %d, %d before", loop_handles(), before);
    srv.resume_grace = 0;
}

int main(void)
{
    char dir[] = "/tmp/sbxd-test-proc-XXXXXX";
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    uv_loop_init(&srv.loop);
    srv.max_procs = 10;
    sbx_list_init(&srv.procs);
    sbx_list_init(&srv.kept);
    sbx_list_init(&srv.boxes);
    srv.max_log = SBX_DEFAULT_MAX_LOG;
    srv.max_logs = SBX_DEFAULT_MAX_LOGS;
    srv.keepalive = 15;
    box.srv = &srv;
    box.dir = dir;
    box.home = dir;
    box.env = json_object();
    sbxd_launch_init(NULL);
    uv_timer_init(&srv.loop, &reaper);
    reaper.data = &srv;
    uv_timer_start(&reaper, on_reap, 2, 2);

    test_output_and_exit();
    test_pause();
    test_backlog();
    test_second_reader();
    test_background_bound();
    test_reader_leaving_trims();
    test_grace_restarted();

    sbxd_proc_free_all(&srv);
    uv_close((uv_handle_t *)&reaper, NULL);
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&srv.loop) == 0, "every handle closed");
    json_decref(box.env);
    rmdir(dir);
    return check_report();
}
