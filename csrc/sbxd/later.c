#include <stddef.h>
#include <stdlib.h>
#include "connwatch.h"
#include "later.h"

static struct sbxd_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Writes the answer and completes the transaction, which frees c (lws drops the
 * protocol), then lets lws read the connection again, as after a stream. */
static void answer(struct lws *wsi, struct sbxd_conn *c, int status, json_t *doc)
{
    if (c->watched) sbxd_connwatch_remove(server_of(wsi), wsi);
    c->watched = 0;
    if (sbxd_reply(wsi, status, doc) < 0) lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    else lws_rx_flow_control(wsi, 1);
}

static void on_done(struct sbxd_waiter *w, json_t *doc, const struct sbxd_err *err)
{
    struct sbxd_later *l = (struct sbxd_later *)((char *)w - offsetof(struct sbxd_later, waiter));
    struct lws *wsi = l->wsi;
    free(l);
    if (!wsi || (!doc && !err)) {
        if (wsi) ((struct sbxd_conn *)lws_wsi_user(wsi))->later = NULL;
        json_decref(doc);
        return;
    }
    struct sbxd_conn *c = lws_wsi_user(wsi);
    c->later = NULL;
    if (err) answer(wsi, c, err->status, sbxd_error_doc(err));
    else answer(wsi, c, 200, doc);
}

struct sbxd_later *sbxd_later_new(struct lws *wsi)
{
    struct sbxd_later *l = malloc(sizeof *l);
    if (!l) return NULL;
    l->waiter.done = on_done;
    l->wsi = wsi;
    return l;
}

void sbxd_later_drop(struct sbxd_later *l)
{
    free(l);
}

int sbxd_later_wait(struct sbxd_later *l, struct sbxd_conn *c)
{
    struct lws *wsi = l->wsi;
    c->later = l;
    lws_rx_flow_control(wsi, 0);
    lws_http_headers_detach(wsi);
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    if (sbxd_connwatch_add(server_of(wsi), wsi, SBXD_WATCH_HALF_CLOSE)) return -1;
    c->watched = 1;
    c->watching = SBXD_WATCH_HALF_CLOSE;
    return 0;
}

void sbxd_later_forget(struct sbxd_later *l)
{
    l->wsi = NULL;
}

/* A client that only shut down its sending side still reads the answer: the watch goes
 * on for its hang-up alone (always reported). */
int sbxd_later_event(struct lws *wsi, struct sbxd_conn *c, unsigned events)
{
    if (events & SBXD_WATCH_GONE) return -1;
    if (!(events & SBXD_WATCH_HALF_CLOSE) || !c->watching) return 0;
    c->watching = 0;
    return sbxd_connwatch_modify(server_of(wsi), wsi, 0);
}
