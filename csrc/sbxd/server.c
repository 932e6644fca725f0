/* The lws protocol callback: collects a request (method, path, key, bounded body), hands
 * it to the routes, and drives SSE streams from WRITEABLE callbacks. */
#include <stdlib.h>
#include <string.h>
#include "http.h"

static enum sbxd_method method_of(struct lws *wsi)
{
    static const struct { enum lws_token_indexes token; enum sbxd_method m; } TOKENS[] = {
        {WSI_TOKEN_GET_URI, SBXD_GET},       {WSI_TOKEN_POST_URI, SBXD_POST},
        {WSI_TOKEN_DELETE_URI, SBXD_DELETE}, {WSI_TOKEN_PUT_URI, SBXD_PUT},
        {WSI_TOKEN_PATCH_URI, SBXD_PATCH}};
    for (size_t i = 0; i < sizeof TOKENS / sizeof *TOKENS; i++)
        if (lws_hdr_total_length(wsi, TOKENS[i].token)) return TOKENS[i].m;
    return SBXD_OTHER;
}

static void reset_conn(struct sbxd_conn *c)
{
    free(c->body);
    memset(c, 0, sizeof *c);
}

static int on_request(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c,
                      const char *path, size_t len)
{
    reset_conn(c);
    c->method = method_of(wsi);
    c->authorized = sbxd_authorized(wsi, srv->api_key);
    if (len >= sizeof c->path) c->path_too_long = 1;
    else memcpy(c->path, path, len);
    /* A request with a body is answered once the body is in, so it never stays unread. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        char cl[32];
        lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        if (strtoull(cl, NULL, 10) > 0) return 0;
    }
    return sbxd_route(wsi, srv, c);
}

static int on_body(struct sbxd_server *srv, struct sbxd_conn *c, const void *in, size_t len)
{
    if (c->too_big || c->body_len + len > srv->max_body) {
        c->too_big = 1; /* keep reading and dropping: the answer comes at completion */
        free(c->body);
        c->body = NULL;
        c->body_len = 0;
        return 0;
    }
    char *b = realloc(c->body, c->body_len + len + 1);
    if (!b) return -1;
    memcpy(b + c->body_len, in, len);
    c->body = b;
    c->body_len += len;
    b[c->body_len] = '\0';
    return 0;
}

static int on_closed(struct sbxd_server *srv, struct sbxd_conn *c)
{
    /* At shutdown every process is already gone (sbxd_proc_free_all) when lws closes
     * the connections that streamed them. */
    if (c->proc && !srv->stopping) sbxd_proc_detach(c->proc);
    c->proc = NULL;
    reset_conn(c);
    return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    struct sbxd_conn *c = user;
    struct sbxd_server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(wsi, srv, c, in, strlen(in));
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(srv, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return sbxd_route(wsi, srv, c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c && c->proc ? sbxd_sse_writeable(wsi, c->proc) : 0;
    /* lws frees the per-connection memory after either: at the end of a kept-alive
     * transaction (DROP_PROTOCOL), or when the connection closes. */
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        return c ? on_closed(srv, c) : 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols sbxd_protocols[] = {
    {"http", http_callback, sizeof(struct sbxd_conn), 0, 0, NULL, SBXD_WRITE_MAX},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};
