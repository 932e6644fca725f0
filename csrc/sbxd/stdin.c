#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "protocol.h"
#include "stdin.h"

static void free_handle(uv_handle_t *h) { free(h); }

/* ---- a foreground command's: written once, then closed; owns its bytes. */

struct stdin_feed {
    uv_pipe_t pipe;
    uv_write_t req;
    size_t len;
    unsigned char data[];
};

static void on_fed(uv_write_t *req, int status)
{
    (void)status; /* EPIPE: the command did not read it all; that is its business */
    struct stdin_feed *f = req->data;
    uv_close((uv_handle_t *)&f->pipe, free_handle);
}

void sbxd_stdin_feed(uv_loop_t *loop, int fd, const unsigned char *data, size_t len)
{
    if (fd < 0) return; /* no stdin bytes: the command reads /dev/null */
    struct stdin_feed *f = len ? malloc(sizeof *f + len) : NULL;
    if (!f || uv_pipe_init(loop, &f->pipe, 0) != 0) {
        free(f);
        close(fd);
        return;
    }
    if (uv_pipe_open(&f->pipe, fd) != 0) {
        close(fd);
        uv_close((uv_handle_t *)&f->pipe, free_handle);
        return;
    }
    memcpy(f->data, data, len);
    f->len = len;
    f->req.data = f;
    uv_buf_t buf = uv_buf_init((char *)f->data, (unsigned)len);
    if (uv_write(&f->req, (uv_stream_t *)&f->pipe, &buf, 1, on_fed) != 0)
        uv_close((uv_handle_t *)&f->pipe, free_handle);
}

/* ---- a background command's: a queue of writes and a close. */

/* Why the stdin ended with operations still queued. */
enum ending { FORGOTTEN, EXITED, BROKEN };

static const char *const WHY[] = {NULL, "the process has exited", "the process closed its stdin"};

/* A write, or the close (no bytes, never handed to libuv). A write lives until libuv's
 * callback for it, even once its stdin has ended (then it only answers and goes). */
struct stdin_op {
    struct sbx_list link;          /* in its stdin's queue until done or the stdin ended */
    struct sbxd_stdin *in;         /* NULL once the stdin ended */
    struct sbxd_waiter *waiter;    /* NULL: nobody waits (a start's bytes), or told already */
    enum ending ended;             /* why, once `in` is NULL */
    int is_close;
    uv_write_t req;
    size_t len;
    size_t told;                   /* the bytes its answer says: len, or a resent write's */
    char *data;
};

#define OP_OF(node) sbx_list_entry(node, struct stdin_op, link)

static void tell(struct stdin_op *op, json_t *doc, const struct sbxd_err *err)
{
    if (op->waiter) op->waiter->done(op->waiter, doc, err);
    else json_decref(doc);
    op->waiter = NULL;
}

static void tell_conflict(struct stdin_op *op, enum ending why)
{
    struct sbxd_err err;
    sbxd_fail(&err, 409, SBX_ERR_CONFLICT, "%s", WHY[why]);
    tell(op, NULL, &err);
}

static void close_pipe(struct sbxd_stdin *in)
{
    if (in->pipe) uv_close((uv_handle_t *)in->pipe, free_handle);
    in->pipe = NULL;
    in->closing = 1;
}

/* Every operation queued is answered (or forgotten) and left to its callback; the pipe
 * closes, which cancels the writes libuv still holds. */
static void end(struct sbxd_stdin *in, enum ending why)
{
    struct sbx_list *n, *next;
    sbx_list_each_safe(n, next, &in->queue) {
        struct stdin_op *op = OP_OF(n);
        sbx_list_remove(n);
        op->in = NULL;
        op->ended = why;
        if (why == FORGOTTEN) tell(op, NULL, NULL);
        if (!op->is_close) continue; /* answered by its callback: its bytes may be in */
        if (why == BROKEN) tell(op, json_pack("{s:b}", "closed", 1), NULL);
        else if (why == EXITED) tell_conflict(op, why);
        free(op);
    }
    in->pending = 0;
    in->broken = why == BROKEN;
    close_pipe(in);
}

/* A close at the head of the queue: every write before it is done. */
static void close_when_due(struct sbxd_stdin *in)
{
    struct sbx_list *first = sbx_list_first(&in->queue);
    if (!first || !OP_OF(first)->is_close) return;
    struct stdin_op *op = OP_OF(first);
    sbx_list_remove(first);
    close_pipe(in);
    tell(op, json_pack("{s:b}", "closed", 1), NULL);
    free(op);
}

/* libuv writes in order, so writes are done in the order they were queued. A failed one
 * (EPIPE: nothing reads the pipe any more) ends the stdin. */
static void on_written(uv_write_t *req, int status)
{
    struct stdin_op *op = req->data;
    struct sbxd_stdin *in = op->in;
    if (in) {
        sbx_list_remove(&op->link);
        in->pending -= op->len;
    }
    if (status == 0) tell(op, json_pack("{s:I}", "written", (json_int_t)op->told), NULL);
    else tell_conflict(op, in ? BROKEN : op->ended);
    free(op->data);
    free(op);
    if (in && status != 0) end(in, BROKEN);
    else if (in) close_when_due(in);
}

static int enqueue(struct sbxd_stdin *in, char *data, size_t len, struct sbxd_waiter *w, struct sbxd_err *err)
{
    struct stdin_op *op = calloc(1, sizeof *op);
    if (!op) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
    op->in = in;
    op->waiter = w;
    op->len = len;
    op->told = len;
    op->data = data;
    op->req.data = op;
    static char nothing[1];
    uv_buf_t buf = uv_buf_init(data ? data : nothing, (unsigned)len);
    if (uv_write(&op->req, (uv_stream_t *)in->pipe, &buf, 1, on_written) != 0) {
        free(op);
        end(in, BROKEN);
        return sbxd_fail(err, 409, SBX_ERR_CONFLICT, "%s", WHY[BROKEN]);
    }
    sbx_list_push_back(&in->queue, &op->link);
    in->pending += len;
    return 0;
}

void sbxd_stdin_init(struct sbxd_stdin *in)
{
    memset(in, 0, sizeof *in);
    sbx_list_init(&in->queue);
}

void sbxd_stdin_open(struct sbxd_stdin *in, uv_loop_t *loop, int fd, const unsigned char *data, size_t len)
{
    in->opened = 1;
    uv_pipe_t *pipe = malloc(sizeof *pipe);
    if (!pipe || uv_pipe_init(loop, pipe, 0) != 0) {
        free(pipe);
        close(fd);
        return;
    }
    if (uv_pipe_open(pipe, fd) != 0) {
        close(fd);
        uv_close((uv_handle_t *)pipe, free_handle);
        return;
    }
    in->pipe = pipe;
    struct sbxd_err err;
    char *copy = len ? malloc(len) : NULL;
    if (copy && enqueue(in, memcpy(copy, data, len), len, NULL, &err) != 0) free(copy);
}

/* A stdin call for a process whose stdin was never open: a foreground command's. */
static int refuse_not_open(struct sbxd_err *err)
{
    return sbxd_fail(err, 409, SBX_ERR_CONFLICT,
                     "the process's stdin is not open: only that of a background command started without stdin bytes is, or of one started with stdin_open");
}

int sbxd_stdin_write(struct sbxd_stdin *in, char *data, size_t len, struct sbxd_waiter *w,
                     struct sbxd_err *err)
{
    if (!in->opened) return refuse_not_open(err);
    if (!in->pipe || in->closing) return sbxd_fail(err, 409, SBX_ERR_CONFLICT, "the process's stdin is closed");
    if (len > SBXD_STDIN_MAX - in->pending)
        return sbxd_fail(err, 429, SBX_ERR_SANDBOX,
                         "too much stdin waiting: %zu bytes wait to be written, at most %u may wait", in->pending,
                         SBXD_STDIN_MAX);
    return enqueue(in, data, len, w, err);
}

/* A write of no bytes keeps its place in libuv's queue: its callback comes after those of
 * the writes before it. A stdin closed since by a close took the bytes before it. */
int sbxd_stdin_write_again(struct sbxd_stdin *in, size_t len, struct sbxd_waiter *w, struct sbxd_err *err)
{
    if (!in->opened) return refuse_not_open(err);
    if (in->broken) return sbxd_fail(err, 409, SBX_ERR_CONFLICT, "%s", WHY[BROKEN]);
    if (!in->pipe || in->closing || sbx_list_empty(&in->queue)) return SBXD_STDIN_AGAIN_DONE;
    if (enqueue(in, NULL, 0, w, err)) return -1;
    OP_OF(sbx_list_last(&in->queue))->told = len;
    return SBXD_STDIN_AGAIN_WAITS;
}

int sbxd_stdin_close(struct sbxd_stdin *in, struct sbxd_waiter *w, struct sbxd_err *err)
{
    if (!in->opened) return refuse_not_open(err);
    if (!in->pipe || in->closing) return SBXD_STDIN_WAS_CLOSED;
    if (sbx_list_empty(&in->queue)) {
        close_pipe(in);
        return SBXD_STDIN_CLOSED;
    }
    struct stdin_op *op = calloc(1, sizeof *op);
    if (!op) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
    op->in = in;
    op->waiter = w;
    op->is_close = 1;
    sbx_list_push_back(&in->queue, &op->link);
    in->closing = 1;
    return SBXD_STDIN_CLOSE_WAITS;
}

void sbxd_stdin_end(struct sbxd_stdin *in, int exited)
{
    end(in, exited ? EXITED : FORGOTTEN);
}
