#include "scheduler.h"

/* A stream paused for its backlog resumes once Lua has drained half of it: resuming at
 * the limit itself would pause it again at its next chunk. */
#define RESUME_BELOW (SBX_QUEUE_MAX / 2)

#define NODE_OF(link, member) sbx_list_entry(link, struct sbx_sched_node, member)

void sbx_sched_init(struct sbx_sched *S, struct sbx_loop *loop)
{
    S->loop = loop;
    sbx_list_init(&S->ready);
    sbx_list_init(&S->paused);
    sbx_list_init(&S->waiting);
    S->nready = 0;
    S->step_bytes = 0;
    S->step_budget = SBX_STEP_BUDGET;
    S->fresh = 0;
}

static void start_waiting(struct sbx_sched *S)
{
    struct sbx_list *first;
    while (sbx_sched_can_start(S) && (first = sbx_list_first(&S->waiting))) {
        sbx_list_remove(first);
        struct sbx_sched_node *n = NODE_OF(first, waiting);
        n->cls->start(n);
    }
}

/* Each stream paused before this step gets one look at most: one that pauses again at
 * once goes to the tail, behind the last of them. */
static void resume_paused(struct sbx_sched *S)
{
    const struct sbx_list *last = sbx_list_last(&S->paused);
    struct sbx_list *first;
    while (S->step_bytes < S->step_budget && (first = sbx_list_first(&S->paused))) {
        int was_last = first == last;
        sbx_list_remove(first);
        struct sbx_sched_node *n = NODE_OF(first, paused);
        if (n->backlog >= RESUME_BELOW) sbx_sched_pause(S, n); /* Lua has not drained it yet */
        else n->cls->resume(n);
        if (was_last) break;
    }
}

void sbx_sched_begin_step(struct sbx_sched *S, size_t budget)
{
    S->step_bytes = 0;
    S->step_budget = budget;
    start_waiting(S);
    resume_paused(S);
}

void sbx_sched_end_step(struct sbx_sched *S)
{
    S->fresh = 0;
}

int sbx_sched_pending(const struct sbx_sched *S)
{
    if (!sbx_list_empty(&S->waiting)) return 1;
    const struct sbx_list *link;
    sbx_list_each(link, &S->paused)
        if (NODE_OF(link, paused)->backlog < RESUME_BELOW) return 1;
    return 0;
}

int sbx_sched_can_start(const struct sbx_sched *S)
{
    return S->fresh < SBX_STARTS_PER_STEP;
}

void sbx_sched_started(struct sbx_sched *S)
{
    S->fresh++;
}

void sbx_sched_wait(struct sbx_sched *S, struct sbx_sched_node *n)
{
    if (!sbx_list_linked(&n->waiting)) sbx_list_push_back(&S->waiting, &n->waiting);
}

int sbx_sched_may_take(const struct sbx_sched *S, const struct sbx_sched_node *n)
{
    return S->step_bytes < S->step_budget && n->backlog < SBX_QUEUE_MAX;
}

void sbx_sched_took(struct sbx_sched *S, size_t bytes)
{
    S->step_bytes += bytes;
}

void sbx_sched_pause(struct sbx_sched *S, struct sbx_sched_node *n)
{
    if (!sbx_list_linked(&n->paused)) sbx_list_push_back(&S->paused, &n->paused);
    sbx_loop_wake(S->loop); /* it resumes at the next step: this one must not block */
}

void sbx_sched_mark_ready(struct sbx_sched *S, struct sbx_sched_node *n)
{
    sbx_loop_wake(S->loop); /* a blocking run must return now: Lua has events to take */
    if (sbx_list_linked(&n->ready)) return;
    sbx_list_push_front(&S->ready, &n->ready);
    S->nready++;
}

static void unmark_ready(struct sbx_sched *S, struct sbx_sched_node *n)
{
    if (!sbx_list_linked(&n->ready)) return;
    sbx_list_remove(&n->ready);
    S->nready--;
}

struct sbx_sched_node *sbx_sched_pop_ready(struct sbx_sched *S)
{
    struct sbx_list *first = sbx_list_first(&S->ready);
    if (!first) return NULL;
    struct sbx_sched_node *n = NODE_OF(first, ready);
    unmark_ready(S, n);
    return n;
}

void sbx_sched_unqueue(struct sbx_sched *S, struct sbx_sched_node *n)
{
    (void)S;
    sbx_list_remove(&n->waiting);
    sbx_list_remove(&n->paused);
}

void sbx_sched_forget(struct sbx_sched *S, struct sbx_sched_node *n)
{
    sbx_sched_unqueue(S, n);
    unmark_ready(S, n);
}
