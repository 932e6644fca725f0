/* The step's scheduler: its budget, and the queues every operation goes through — requests
 * waiting for their turn to start, streams paused by the budget, operations with events
 * for Lua (the ready list). Operations embed a node and say what starting and resuming
 * mean for them through a class of functions; the scheduler calls those, and wakes the
 * loop when work appears during a run. */
#ifndef SBX_SCHEDULER_H
#define SBX_SCHEDULER_H
#include <stddef.h>
#include "list.h"
#include "loop.h"

/* One step takes at most this many stream bytes from all streams together (with what
 * their output's buffers copy to grow meanwhile: the caller counts both), and a stream
 * holds at most SBX_QUEUE_MAX bytes of events Lua has not drained: past either, the
 * stream pauses, and paused streams resume at the start of a later step. So one step's
 * work stays short under a flood of output. A step that blocks until something happens
 * (its caller has nothing else to do: a call in the main chunk, sbx.loop()) is no host's
 * frame: it takes up to SBX_BLOCKING_STEP_BUDGET, so that a bulky stream costs fewer
 * steps. */
#define SBX_STEP_BUDGET (32u * 1024u)
#define SBX_BLOCKING_STEP_BUDGET (1024u * 1024u)
#define SBX_QUEUE_MAX   (256u * 1024u)
/* New requests one step hands to curl at most: each costs a connection lookup or a
 * connect and the request's send, so a burst waits its turn instead of stalling a frame
 * (measured by bench/step_budget.lua; 4 keeps the slowest steps short with no loss of
 * throughput at a thousand runs in flight). */
#define SBX_STARTS_PER_STEP 4

struct sbx_sched_node;

/* What the scheduler asks of the operation that owns a node. */
struct sbx_sched_class {
    /* A waiting request's turn has come: hand it to curl (and say sbx_sched_started). */
    void (*start)(struct sbx_sched_node *n);
    /* A paused stream may go on (it may pause again at once). */
    void (*resume)(struct sbx_sched_node *n);
};

struct sbx_sched_node {
    const struct sbx_sched_class *cls;
    struct sbx_list ready;     /* in the ready list: it has events Lua has not been told of */
    struct sbx_list paused;    /* in the paused queue, oldest first */
    struct sbx_list waiting;   /* in the queue of requests not yet handed to curl */
    size_t backlog;            /* bytes of events queued for Lua and not yet taken */
};

struct sbx_sched {
    struct sbx_loop *loop;
    struct sbx_list ready, paused, waiting;
    size_t nready;
    size_t step_bytes;         /* stream bytes taken in this step, and copies they made */
    size_t step_budget;        /* of this step: SBX_STEP_BUDGET or SBX_BLOCKING_STEP_BUDGET */
    int fresh;                 /* requests handed to curl since the step began */
};

void sbx_sched_init(struct sbx_sched *S, struct sbx_loop *loop);

/* The start of a step that takes at most `budget` stream bytes: waiting requests go to
 * curl (up to SBX_STARTS_PER_STEP), then paused streams resume, oldest first, while the
 * budget lasts. */
void sbx_sched_begin_step(struct sbx_sched *S, size_t budget);
/* The end of a step: curl took up the requests handed to it. */
void sbx_sched_end_step(struct sbx_sched *S);
/* Whether the next step has work that no descriptor announces: a request waits its turn,
 * or a paused stream would resume. A host sleeping on the loop's fd must not sleep then. */
int sbx_sched_pending(const struct sbx_sched *S);

/* Whether this step may still hand a new request to curl. */
int sbx_sched_can_start(const struct sbx_sched *S);
/* A request was handed to curl: it counts against this step's quota. */
void sbx_sched_started(struct sbx_sched *S);
/* A request that waits for a later step's quota. */
void sbx_sched_wait(struct sbx_sched *S, struct sbx_sched_node *n);

/* Whether a stream may take more bytes now: the step's budget and its backlog allow it. */
int sbx_sched_may_take(const struct sbx_sched *S, const struct sbx_sched_node *n);
/* A stream took `bytes`: they count against the step's budget. */
void sbx_sched_took(struct sbx_sched *S, size_t bytes);
/* A stream that must wait: it resumes at a later step. */
void sbx_sched_pause(struct sbx_sched *S, struct sbx_sched_node *n);

/* The node has events for Lua: it goes on the ready list (once), and a run in progress
 * returns without blocking. */
void sbx_sched_mark_ready(struct sbx_sched *S, struct sbx_sched_node *n);
/* The most recently readied node, taken off the ready list; NULL when none. */
struct sbx_sched_node *sbx_sched_pop_ready(struct sbx_sched *S);

/* The node leaves the waiting and paused queues (its transfer is over or cut short). */
void sbx_sched_unqueue(struct sbx_sched *S, struct sbx_sched_node *n);
/* The node leaves every queue and the ready list (its operation goes). */
void sbx_sched_forget(struct sbx_sched *S, struct sbx_sched_node *n);

#endif
