#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "jbytes.h"

/* Writes a whole JSON response; "connection: close" when the connection will not carry
 * another request. The answer to a HEAD is the head alone (its Content-Length the
 * body's): a body after it would be read as the start of the next answer. */
static int write_json(struct lws *wsi, int status, json_t *doc, int closing)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    size_t len = text ? strlen(text) : 0;
    size_t body_len = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0 ? 0 : len;
    unsigned char *buf = malloc(LWS_PRE + 512 + len);
    if (!buf) return free(text), -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + 512;
    int rc = -1;
    if (!lws_add_http_common_headers(wsi, (unsigned)status, "application/json", len, &p, end) &&
        (!closing || !lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                   (const unsigned char *)"close", 5, &p, end)) &&
        !lws_finalize_write_http_header(wsi, start, &p, end) &&
        lws_write(wsi, (unsigned char *)memcpy(start, text ? text : "", body_len), body_len,
                  LWS_WRITE_HTTP_FINAL) == (int)body_len)
        rc = 0;
    free(text);
    free(buf);
    return rc;
}

int sbxd_reply(struct lws *wsi, int status, json_t *doc)
{
    if (write_json(wsi, status, doc, 0)) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

json_t *sbxd_error_doc(const struct sbxd_err *err)
{
    /* a message may quote a path of bytes that are not UTF-8 */
    return json_pack("{s:{s:s, s:o}}", "error", "kind", err->kind, "message", sbxd_text_json(err->message));
}

int sbxd_reply_error(struct lws *wsi, const struct sbxd_err *err)
{
    return sbxd_reply(wsi, err->status, sbxd_error_doc(err));
}

int sbxd_reply_refusal(struct lws *wsi, const struct sbxd_err *err)
{
    return write_json(wsi, err->status, sbxd_error_doc(err), 1);
}
