/* How much of a request head sbxd lets lws store, and the heads it refuses on that
 * account (see http.h and docs/PROTOCOL.md, Limits). */
#include "http.h"
#include "protocol.h"

/* The tokens that hold a request's target: one per method, the query, h2's :path. */
static int is_uri_token(int token)
{
    static const int URI_TOKENS[] = {
        WSI_TOKEN_GET_URI,   WSI_TOKEN_POST_URI,   WSI_TOKEN_OPTIONS_URI,
        WSI_TOKEN_PATCH_URI, WSI_TOKEN_PUT_URI,    WSI_TOKEN_DELETE_URI,
        WSI_TOKEN_HEAD_URI,  WSI_TOKEN_CONNECT,    WSI_TOKEN_HTTP_URI_ARGS,
        WSI_TOKEN_HTTP_COLON_PATH};
    for (size_t i = 0; i < sizeof URI_TOKENS / sizeof *URI_TOKENS; i++)
        if (URI_TOKENS[i] == token) return 1;
    return 0;
}

/* lws keeps the pointer for the context's life. A token that reaches its limit is cut
 * there (the limit itself is stored, one byte over the bound, so it shows). */
static struct lws_token_limits token_limits;

void sbxd_head_limits(struct lws_context_creation_info *info)
{
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        token_limits.token_limit[t] = (unsigned short)(is_uri_token(t) ? SBXD_URI_MAX + 1
                                                                       : SBXD_FIELD_MAX + 1);
    info->token_limits = &token_limits;
    info->max_http_header_data = SBXD_HEAD_MAX;
    info->max_http_header_pool = SBXD_HEAD_POOL;
}

int sbxd_head_refused(struct lws *wsi, struct sbxd_err *err)
{
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (is_uri_token(t) && len > SBXD_URI_MAX)
            return sbxd_fail(err, 414, SBX_ERR_INVALID, "the URI's path or query is longer than %d bytes",
                             SBXD_URI_MAX);
        if (!is_uri_token(t) && len > SBXD_FIELD_MAX)
            return sbxd_fail(err, 431, SBX_ERR_INVALID, "a header field is longer than %d bytes",
                             SBXD_FIELD_MAX);
    }
    return 0;
}
