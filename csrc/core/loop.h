/* One libuv loop per Lua state, carrying a curl multi handle (the multi-uv pattern).
 * step(0) never blocks; the whole loop is pollable through its backend fd. */
#ifndef SBX_LOOP_H
#define SBX_LOOP_H
#include <curl/curl.h>
#include <uv.h>
#include "buf.h"
#include "opqueue.h"

struct sbx_op;
struct sbx_sock;

struct sbx_loop {
    uv_loop_t uv;
    uv_timer_t step_timer;   /* bounds a blocking step */
    uv_timer_t curl_timer;   /* curl's timeout, from CURLMOPT_TIMERFUNCTION */
    CURLM *multi;
    struct sbx_op *ops;      /* every live operation */
    struct sbx_op *ready;    /* operations with events not yet reported by pop_ready */
    size_t step_bytes;       /* stream bytes taken in this step (see SBX_STEP_BUDGET) */
    struct sbx_opqueue paused;   /* paused streams, oldest first */
    CURL *spare[8];          /* finished easy handles kept for reuse: a new one costs */
    int nspare;              /* fresh buffers, and fresh pages, on every request */
    struct sbx_sock **socks;   /* socket watchers by fd (sockwatch.c) */
    size_t nsocks;
    int in_run;              /* inside uv_run: see sbx_loop_mark_ready */
    struct sbx_opqueue waiting;  /* requests not yet handed to curl, oldest first */
    int fresh;               /* requests handed to curl since the last step ran */
    void *graveyard;         /* large buffers to free, one per step (sbx_loop_free_later) */
};

/* Process-wide, once, thread-safe. Returns 0 on success. */
int sbx_global_init(void);

int sbx_loop_init(struct sbx_loop *L);
/* Aborts and frees every operation, closes every handle, closes the uv loop. */
void sbx_loop_destroy(struct sbx_loop *L);
/* Runs the loop once. timeout 0: never blocks; < 0: blocks until something happens
 * (returns at once when nothing is pending at all); > 0: blocks at most that long. */
void sbx_loop_step(struct sbx_loop *L, double timeout);
/* The next operation that got events since it was last returned, or NULL. */
struct sbx_op *sbx_loop_pop_ready(struct sbx_loop *L);
/* Makes the current step return without blocking (there is work for the next one). */
void sbx_loop_wake(struct sbx_loop *L);
/* Ready-list membership of an operation (idempotent both ways). */
void sbx_loop_mark_ready(struct sbx_loop *L, struct sbx_op *op);
void sbx_loop_unmark_ready(struct sbx_loop *L, struct sbx_op *op);
/* Takes over b's allocation (b is left empty) and frees it, at the start of the next
 * step when it is large: giving a megabyte back to the system costs about as much as
 * copying it, and the step that copied it into a Lua string should not pay both. */
void sbx_loop_free_later(struct sbx_loop *L, struct sbx_buf *b);
/* Lets curl act on finished transfers; called after every socket or timer action. */
void sbx_loop_check_done(struct sbx_loop *L);

#endif
