/* The end of a killed sandbox on the host: its directory and cgroups go once its init is
 * gone (the kernel has then killed every process of it), at once when it goes quickly,
 * else when the loop sees its pidfd readable. */
#include <stdlib.h>
#include <unistd.h>
#include "cgroup.h"
#include "isolate.h"
#include "sbxd.h"

/* How long a kill waits for the sandbox's processes to be gone before it leaves the
 * removal of its directory to the loop; at shutdown, how long it waits at most. */
#define GONE_WAIT_MS 200
#define SHUTDOWN_WAIT_MS 2000

/* A sandbox whose processes were still going when it was killed: its directory goes
 * once its init is gone (the kernel has then killed everything in it). */
struct corpse {
    uv_poll_t poll;   /* on the init's pidfd */
    struct sbx_list link;  /* in srv->corpses */
    int init;
    char *dir;
    struct sbxd_cgroup *cg;
};

static void free_corpse(uv_handle_t *h)
{
    struct corpse *c = h->data;
    sbx_list_remove(&c->link);
    close(c->init);
    sbxd_cgroup_destroy(c->cg);
    sbxd_remove_tree(c->dir);
    free(c->dir);
    free(c);
}

static void on_init_gone(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    uv_close((uv_handle_t *)h, free_corpse);
}

void sbxd_sandbox_bury(struct sbxd_sandbox *box)
{
    int wait_ms = box->srv->stopping ? SHUTDOWN_WAIT_MS : GONE_WAIT_MS;
    struct corpse *c = box->init >= 0 && sbxd_isolate_wait_gone(box->init, wait_ms) != 0 && !box->srv->stopping
                           ? malloc(sizeof *c) : NULL;
    if (c && uv_poll_init(&box->srv->loop, &c->poll, box->init) == 0) {
        sbx_list_push_back(&box->srv->corpses, &c->link);
        c->init = box->init;
        c->dir = box->dir;
        c->cg = box->cg;
        c->poll.data = c;
        uv_poll_start(&c->poll, UV_READABLE, on_init_gone);
        box->dir = NULL;
        box->init = -1;
        box->cg = NULL;
        return;
    }
    free(c);
    if (box->init >= 0) close(box->init);
    box->init = -1;
    sbxd_cgroup_destroy(box->cg);
    box->cg = NULL;
    sbxd_remove_tree(box->dir);
}

void sbxd_sandbox_bury_all(struct sbxd_server *srv)
{
    while (!sbx_list_empty(&srv->corpses)) {
        struct corpse *c = sbx_list_entry(srv->corpses.next, struct corpse, link);
        sbxd_isolate_wait_gone(c->init, SHUTDOWN_WAIT_MS);
        uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *)&c->poll, free_corpse);
        sbx_list_remove(&c->link);
    }
}

