#include "loop.h"
#include "protocol.h"

#include <math.h>
#include <stdint.h>

int sbx_loop_init(struct sbx_loop *L)
{
    if (uv_loop_init(&L->uv) != 0) return -1;
    uv_timer_init(&L->uv, &L->step_timer);
    L->in_run = 0;
    return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void sbx_loop_close(struct sbx_loop *L)
{
    uv_walk(&L->uv, close_handle, NULL); /* our step timer, and anything left */
    uv_run(&L->uv, UV_RUN_DEFAULT);
    uv_loop_close(&L->uv);
}

/* The run's time is up. Stopping matters when this fires before the poll (its due time
 * is in the loop's whole milliseconds, so it can come a little early): the poll must
 * then not wait at all, rather than wait without a bound. */
static void on_step_timer(uv_timer_t *t) { uv_stop(t->loop); }

static void run_once(struct sbx_loop *L, uv_run_mode mode)
{
    L->in_run = 1;
    uv_run(&L->uv, mode);
    L->in_run = 0;
}

void sbx_loop_run(struct sbx_loop *L, double timeout)
{
    if (timeout == 0) {
        run_once(L, UV_RUN_NOWAIT);
    } else if (timeout < 0) {
        if (uv_loop_alive(&L->uv)) run_once(L, UV_RUN_ONCE);
    } else {
        /* A huge timeout is a long wait, never a wrapped (or undefined) conversion. */
        if (timeout > SBX_TIMEOUT_MAX) timeout = SBX_TIMEOUT_MAX;
        uint64_t ms = (uint64_t)ceil(timeout * 1000.0);
        uv_update_time(&L->uv); /* from now, not from the loop's cached time */
        uv_timer_start(&L->step_timer, on_step_timer, ms, 0);
        run_once(L, UV_RUN_ONCE);
        uv_timer_stop(&L->step_timer);
    }
}

void sbx_loop_wake(struct sbx_loop *L)
{
    /* UV_RUN_ONCE runs due timers before it polls, so work done from a timer would
     * otherwise be followed by a full blocking poll; uv_stop makes that poll's timeout 0.
     * Only inside uv_run: a stop requested before it (a stream resumed at the start of
     * the step) would make it skip all its I/O. */
    if (L->in_run) uv_stop(&L->uv);
}

int sbx_loop_timeout_ms(const struct sbx_loop *L)
{
    return uv_loop_alive(&L->uv) ? uv_backend_timeout(&L->uv) : -1;
}

int sbx_loop_fd(const struct sbx_loop *L)
{
    return uv_backend_fd(&L->uv);
}
