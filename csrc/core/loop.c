#include "loop.h"
#include "http.h"
#include "protocol.h"
#include "sockwatch.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int sbx_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc == CURLE_OK ? 0 : -1;
}

void sbx_loop_check_done(struct sbx_loop *L)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(L->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct sbx_op *op = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&op);
        if (op) sbx_op_finish(op, msg->data.result);
    }
}

static void on_curl_timer(uv_timer_t *t)
{
    struct sbx_loop *L = t->data;
    int running;
    curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    sbx_loop_check_done(L);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct sbx_loop *L = userp;
    if (timeout_ms < 0) return uv_timer_stop(&L->curl_timer);
    /* Never act from inside this callback: a 0 ms timer fires on the next iteration. */
    return uv_timer_start(&L->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
}

int sbx_loop_init(struct sbx_loop *L)
{
    if (sbx_global_init() != 0 || uv_loop_init(&L->uv) != 0) return -1;
    uv_timer_init(&L->uv, &L->step_timer);
    uv_timer_init(&L->uv, &L->curl_timer);
    L->curl_timer.data = L;
    L->multi = curl_multi_init();
    if (!L->multi) {
        sbx_loop_destroy(L);
        return -1;
    }
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, sbx_sockwatch_on_socket);
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
    return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

#define SBX_FREE_LATER_MIN (256u * 1024u)

struct later {
    struct later *next;
    struct sbx_buf buf;
};

void sbx_loop_free_later(struct sbx_loop *L, struct sbx_buf *b)
{
    struct later *n = b->cap >= SBX_FREE_LATER_MIN ? malloc(sizeof *n) : NULL;
    if (!n) {
        sbx_buf_free(b);
        return;
    }
    sbx_buf_move(b, &n->buf);
    n->next = L->graveyard;
    L->graveyard = n;
}

/* One deferred buffer a step: a burst of finished commands spreads over steps. */
static void free_one_later(struct sbx_loop *L)
{
    struct later *n = L->graveyard;
    if (!n) return;
    L->graveyard = n->next;
    sbx_buf_free(&n->buf);
    free(n);
}

void sbx_loop_destroy(struct sbx_loop *L)
{
    while (L->graveyard) free_one_later(L);
    while (L->ops) sbx_op_destroy(L->ops);
    while (L->nspare) curl_easy_cleanup(L->spare[--L->nspare]);
    if (L->multi) curl_multi_cleanup(L->multi); /* removes its sockets: REMOVE callbacks */
    L->multi = NULL;
    sbx_sockwatch_close_all(L);
    /* Handles left (our timers) close here. */
    uv_walk(&L->uv, close_handle, NULL);
    uv_run(&L->uv, UV_RUN_DEFAULT);
    uv_loop_close(&L->uv);
}

/* The step's time is up. Stopping matters when this fires before the poll (its due time
 * is in the loop's whole milliseconds, so it can come a little early): the poll must
 * then not wait at all, rather than wait without a bound. */
static void on_step_timer(uv_timer_t *t) { uv_stop(t->loop); }

static void run_loop(struct sbx_loop *L, uv_run_mode mode)
{
    L->in_run = 1;
    uv_run(&L->uv, mode);
    L->in_run = 0;
}

void sbx_loop_step(struct sbx_loop *L, double timeout)
{
    L->step_bytes = 0;
    free_one_later(L);
    if (timeout != 0) /* the loop may sleep: nothing to spread over */
        while (L->graveyard) free_one_later(L);
    sbx_start_waiting(L);
    sbx_resume_paused(L);
    /* No blocking when a resumed stream already brought events, or when streams and
     * requests still wait their turn: they go on at the next step, not after some
     * unrelated I/O. */
    if (L->ready || L->waiting.head || sbx_has_resumable(L)) timeout = 0;
    if (timeout == 0) {
        run_loop(L, UV_RUN_NOWAIT);
    } else if (timeout < 0) {
        if (uv_loop_alive(&L->uv)) run_loop(L, UV_RUN_ONCE);
    } else {
        /* A huge timeout is a long wait, never a wrapped (or undefined) conversion. */
        if (timeout > SBX_TIMEOUT_MAX) timeout = SBX_TIMEOUT_MAX;
        uint64_t ms = (uint64_t)ceil(timeout * 1000.0);
        uv_update_time(&L->uv); /* from now, not from the loop's cached time */
        uv_timer_start(&L->step_timer, on_step_timer, ms, 0);
        run_loop(L, UV_RUN_ONCE);
        uv_timer_stop(&L->step_timer);
    }
    L->fresh = 0; /* curl took up the requests handed to it during this step */
}

void sbx_loop_wake(struct sbx_loop *L)
{
    /* UV_RUN_ONCE runs due timers before it polls, so work done from a timer would
     * otherwise be followed by a full blocking poll; uv_stop makes that poll's timeout 0.
     * Only inside uv_run: a stop requested before it (a stream resumed at the start of
     * the step) would make it skip all its I/O. */
    if (L->in_run) uv_stop(&L->uv);
}

void sbx_loop_mark_ready(struct sbx_loop *L, struct sbx_op *op)
{
    sbx_loop_wake(L); /* a blocking step must return now: Lua has events to take */
    if (op->in_ready) return;
    op->in_ready = 1;
    op->ready_prev = NULL;
    op->ready_next = L->ready;
    if (L->ready) L->ready->ready_prev = op;
    L->ready = op;
}

void sbx_loop_unmark_ready(struct sbx_loop *L, struct sbx_op *op)
{
    if (!op->in_ready) return;
    if (op->ready_prev) op->ready_prev->ready_next = op->ready_next;
    else L->ready = op->ready_next;
    if (op->ready_next) op->ready_next->ready_prev = op->ready_prev;
    op->in_ready = 0;
    op->ready_prev = op->ready_next = NULL;
}

struct sbx_op *sbx_loop_pop_ready(struct sbx_loop *L)
{
    struct sbx_op *op = L->ready;
    if (op) sbx_loop_unmark_ready(L, op);
    return op;
}
