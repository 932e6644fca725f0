#include "wsctx.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

/* What lws reads from a socket at once (its default is 4 KiB): bulk output would take a
 * loop turn per 4 KiB. */
#define SBX_WS_SERV_BUF (64 * 1024)

void sbx_wsctx_init(struct sbx_wsctx *W, uv_loop_t *uv)
{
    W->uv = uv;
    W->lws = NULL;
}

/* The handles on the loop that are not I/O watchers (timers, idles, ...): before the
 * context is made, those are the client's own. */
struct handle_set {
    uv_handle_t **h;
    size_t n, cap;
    int failed;
};

static void note_handle(uv_handle_t *h, void *arg)
{
    struct handle_set *set = arg;
    if (h->type == UV_POLL || set->failed) return;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        uv_handle_t **grown = realloc(set->h, cap * sizeof *grown);
        if (!grown) {
            set->failed = 1;
            return;
        }
        set->h = grown;
        set->cap = cap;
    }
    set->h[set->n++] = h;
}

static void unref_if_new(uv_handle_t *h, void *arg)
{
    const struct handle_set *set = arg;
    if (h->type == UV_POLL) return;
    for (size_t i = 0; i < set->n; i++)
        if (set->h[i] == h) return;
    uv_unref(h);
}

static struct lws_context *create(struct sbx_wsctx *W, const struct lws_protocols *protocols)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[] = {W->uv};
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.pt_serv_buf_size = SBX_WS_SERV_BUF;
    info.gid = -1;
    info.uid = -1;
    info.pcontext = &W->lws;
    /* lws logs to stderr by default (a notice for the foreign loop, warnings for every
     * refused upgrade); the client reports failures itself. The level is lws-wide. */
    lws_set_log_level(LLL_ERR, NULL);
    return lws_create_context(&info);
}

struct lws_context *sbx_wsctx_get(struct sbx_wsctx *W, const struct lws_protocols *protocols)
{
    if (W->lws) return W->lws;
    struct handle_set before = {0};
    uv_walk(W->uv, note_handle, &before);
    if (before.failed) {
        free(before.h);
        return NULL;
    }
    W->lws = create(W, protocols);
    if (W->lws) uv_walk(W->uv, unref_if_new, &before);
    free(before.h);
    return W->lws;
}

static void note_closing(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h)) *(int *)arg = 1;
}

static int has_closing(uv_loop_t *uv)
{
    int closing = 0;
    uv_walk(uv, note_closing, &closing);
    return closing;
}

/* On a foreign loop it takes two destroys: the first closes the connections and starts
 * closing lws' handles, whose close callbacks must run (the loop turns) before the second
 * frees the context. A second one made earlier would run a callback of the unloaded
 * event library. */
void sbx_wsctx_destroy(struct sbx_wsctx *W)
{
    struct lws_context *ctx = W->lws;
    if (!ctx) return;
    lws_context_destroy(ctx);
    while (has_closing(W->uv)) uv_run(W->uv, UV_RUN_NOWAIT);
    lws_context_destroy(ctx);
    W->lws = NULL;
}
