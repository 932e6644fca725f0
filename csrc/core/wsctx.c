#include "wsctx.h"
#include "cafile.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What lws reads from a socket at once (its default is 4 KiB): bulk output would take a
 * loop turn per 4 KiB. */
#define SBX_WS_SERV_BUF (64 * 1024)

void sbx_wsctx_init(struct sbx_wsctx *W, uv_loop_t *uv, int tls)
{
    memset(W, 0, sizeof *W);
    W->uv = uv;
    W->tls = tls;
}

/* A set of the loop's handles: those there before the context is made are the client's
 * own (and curl's); every other one after is lws'. */
struct handle_set {
    uv_handle_t **h;
    size_t n, cap;
    int failed;
};

static void note_handle(uv_handle_t *h, void *arg)
{
    struct handle_set *set = arg;
    if (set->failed) return;
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

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(uv_handle_t *const *)a, y = (uintptr_t)*(uv_handle_t *const *)b;
    return x < y ? -1 : x > y;
}

struct new_handles {
    const struct handle_set *before;   /* sorted */
    struct handle_set timers;          /* lws' */
};

/* lws' handles (its idle, its timer, the poll of its event pipe) do not keep the loop
 * alive. */
static void unref_if_new(uv_handle_t *h, void *arg)
{
    struct new_handles *nh = arg;
    if (nh->before->n && bsearch(&h, nh->before->h, nh->before->n, sizeof h, by_address)) return;
    uv_unref(h);
    if (h->type == UV_TIMER) note_handle(h, &nh->timers);
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
    char ca[4096];
    if (W->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = sbx_ca_file(ca, sizeof ca);
    }
    /* lws logs to stderr by default (a notice for the foreign loop, warnings for every
     * refused upgrade, an error line for a certificate it refuses): a library's lines in
     * its host's stderr. The client raises every failure with its reason instead (a
     * refused certificate's too), so lws logs nothing. The level is lws-wide. */
    lws_set_log_level(0, NULL);
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
    if (before.n) qsort(before.h, before.n, sizeof *before.h, by_address);
    W->lws = create(W, protocols);
    struct new_handles nh = {.before = &before};
    if (W->lws) uv_walk(W->uv, unref_if_new, &nh);
    free(before.h);
    W->timers = (uv_timer_t **)nh.timers.h;
    W->ntimers = nh.timers.failed ? 0 : nh.timers.n;
    return W->lws;
}

void sbx_wsctx_connected(struct sbx_wsctx *W)
{
    W->connections++;
}

void sbx_wsctx_disconnected(struct sbx_wsctx *W)
{
    if (W->connections > 0) W->connections--;
}

void sbx_wsctx_settle(struct sbx_wsctx *W)
{
    if (W->connections > 0) return;
    for (size_t i = 0; i < W->ntimers; i++) uv_timer_stop(W->timers[i]);
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
    free(W->timers);
    W->timers = NULL;
    W->ntimers = 0;
}
