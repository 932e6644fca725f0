/* The libuv loop at the bottom of the client core: one per Lua state. It knows nothing of
 * curl or of operations; the layers above put their handles on `uv`. A step runs it once;
 * the whole loop is pollable through its backend fd. */
#ifndef SBX_LOOP_H
#define SBX_LOOP_H
#include <uv.h>

struct sbx_loop {
    uv_loop_t uv;
    uv_timer_t step_timer;   /* bounds a blocking run */
    int in_run;              /* inside uv_run: see sbx_loop_wake */
};

int sbx_loop_init(struct sbx_loop *L);
/* Closes every handle still open on the loop, lets their close callbacks run, and closes
 * the uv loop. The layers above close theirs first. */
void sbx_loop_close(struct sbx_loop *L);
/* Runs the loop once. timeout 0: never blocks; < 0: blocks until something happens
 * (returns at once when nothing is pending at all); > 0: blocks at most that long. */
void sbx_loop_run(struct sbx_loop *L, double timeout);
/* Makes the current run return without blocking (there is work for the next one). */
void sbx_loop_wake(struct sbx_loop *L);
/* Milliseconds until the loop has work for sure (0: now), or -1 when nothing is pending
 * on it at all (no handle alive). */
int sbx_loop_timeout_ms(const struct sbx_loop *L);
/* The descriptor that becomes readable when the loop has I/O to do. */
int sbx_loop_fd(const struct sbx_loop *L);

#endif
