#include "client.h"

#include <string.h>

int sbx_client_init(struct sbx_client *C)
{
    memset(C, 0, sizeof *C);
    if (sbx_loop_init(&C->loop) != 0) return -1;
    if (sbx_multi_init(&C->multi, &C->loop.uv) != 0) {
        sbx_loop_close(&C->loop);
        return -1;
    }
    sbx_wsctx_init(&C->ws, &C->loop.uv, 0);
    sbx_wsctx_init(&C->wss, &C->loop.uv, 1);
    sbx_sched_init(&C->sched, &C->loop);
    sbx_graveyard_init(&C->graveyard);
    C->output_source.spare = &C->graveyard.spare;
    sbx_header_lists_init(&C->headers);
    sbx_list_init(&C->resources);
    return 0;
}

void sbx_client_destroy(struct sbx_client *C)
{
    sbx_graveyard_free_all(&C->graveyard);
    struct sbx_list *first;
    while ((first = sbx_list_first(&C->resources))) {
        struct sbx_resource *r = sbx_list_entry(first, struct sbx_resource, link);
        r->destroy(r); /* unlinks it */
    }
    sbx_wsctx_destroy(&C->ws);
    sbx_wsctx_destroy(&C->wss);
    sbx_easypool_free(&C->pool);
    sbx_multi_close(&C->multi);
    sbx_loop_close(&C->loop);
}

void sbx_client_finish_lingering(struct sbx_client *C, int ms)
{
    uint64_t until = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (C->lingering > 0 && uv_hrtime() < until) sbx_client_step(C, 0.01, 1);
}

void sbx_client_step(struct sbx_client *C, double timeout, int bulk)
{
    uint64_t now = uv_hrtime();
    bulk = bulk || timeout < 0;
    sbx_graveyard_free_one(&C->graveyard, now);
    if (timeout != 0 || bulk) /* the loop may sleep, or no frame waits: nothing to spread over */
        sbx_graveyard_free_buried(&C->graveyard, now);
    sbx_sched_begin_step(&C->sched, bulk ? SBX_BLOCKING_STEP_BUDGET : SBX_STEP_BUDGET);
    /* No blocking when a resumed stream already brought events, or when streams and
     * requests still wait their turn: they go on at the next step, not after some
     * unrelated I/O. */
    if (C->sched.nready || sbx_sched_pending(&C->sched)) timeout = 0;
    sbx_loop_run(&C->loop, timeout);
    sbx_sched_end_step(&C->sched);
    sbx_wsctx_settle(&C->ws);
    sbx_wsctx_settle(&C->wss);
}

/* libuv answers 0 for a loop with nothing to do: an idle client says -1, so that a host
 * polling on that does not spin; only new work (which goes through a step) can wake it.
 * Work the scheduler holds back (a request over a step's quota, a paused stream that
 * could resume) has no descriptor to announce it: the answer is 0 while any waits. */
int sbx_client_timeout_ms(const struct sbx_client *C)
{
    return sbx_sched_pending(&C->sched) ? 0 : sbx_loop_timeout_ms(&C->loop);
}

int sbx_client_fd(const struct sbx_client *C)
{
    return sbx_loop_fd(&C->loop);
}

size_t sbx_client_ready_count(const struct sbx_client *C)
{
    return C->sched.nready;
}

struct sbx_sched_node *sbx_client_pop_ready(struct sbx_client *C)
{
    return sbx_sched_pop_ready(&C->sched);
}
