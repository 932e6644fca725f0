#include "wsrx.h"

#include <string.h>

void sbx_wsrx_init(struct sbx_wsrx *rx)
{
    memset(rx, 0, sizeof *rx);
    rx->channel = -1;
}

void sbx_wsrx_free(struct sbx_wsrx *rx)
{
    sbx_buf_free(&rx->status);
    sbx_wsrx_init(rx);
}

void sbx_wsrx_reset(struct sbx_wsrx *rx)
{
    sbx_buf_reset(&rx->status);
    rx->channel = -1;
    rx->in_message = rx->failed = 0;
    rx->len = 0;
}

static enum sbx_wsrx_kind fail(struct sbx_wsrx *rx)
{
    rx->failed = 1;
    rx->in_message = 0;
    sbx_buf_free(&rx->status);
    return SBX_WSRX_FAIL;
}

/* The message's first byte came (in `p`, of a fragment of n bytes): its channel is read
 * and checked by the shared classifier. The bytes after it are handed on. */
static enum sbx_wsrx_kind begin(struct sbx_wsrx *rx, const char *p, size_t n, int final,
                                int is_text, struct sbx_wsrx_item *item)
{
    /* a message that ends here is classified whole; one that goes on, by its channel
     * byte alone (its size is checked as it grows) */
    size_t whole = final ? n : 1;
    if (sbx_ws_classify(&item->why, p, whole, is_text, SBX_WS_AT_CLIENT) != 0) return fail(rx);
    rx->channel = (unsigned char)p[0];
    item->channel = rx->channel;
    item->data = p + 1;
    item->len = n - 1;
    return SBX_WSRX_OUTPUT; /* the caller turns a status into gathering */
}

/* Bytes of the message under way (after its channel byte): output is handed on, a
 * status message gathered until its last fragment. */
static enum sbx_wsrx_kind carry(struct sbx_wsrx *rx, const char *p, size_t n, int final,
                                struct sbx_wsrx_item *item)
{
    item->channel = rx->channel;
    if (rx->channel != SBX_WS_STATUS) {
        item->data = p;
        item->len = n;
        return SBX_WSRX_OUTPUT;
    }
    if (n && sbx_buf_append(&rx->status, p, n) != 0) {
        sbx_ws_refuse(&item->why, SBX_WS_TOO_BIG, "out of memory for a status message");
        return fail(rx);
    }
    if (!final) return SBX_WSRX_NONE;
    item->data = rx->status.data ? rx->status.data : "";
    item->len = rx->status.len;
    return SBX_WSRX_STATUS;
}

enum sbx_wsrx_kind sbx_wsrx_feed(struct sbx_wsrx *rx, const void *data, size_t len, int first,
                                 int final, int is_text, struct sbx_wsrx_item *item)
{
    const char *p = data;
    memset(item, 0, sizeof *item);
    item->channel = -1;
    if (rx->failed) {
        sbx_ws_refuse(&item->why, SBX_WS_POLICY, "the session already failed");
        return SBX_WSRX_FAIL;
    }
    if (first) {
        sbx_wsrx_reset(rx);
        rx->in_message = 1;
    } else if (!rx->in_message) {
        sbx_ws_refuse(&item->why, SBX_WS_POLICY, "a continuation outside a message");
        return fail(rx);
    }
    rx->len += len;
    if (sbx_ws_too_big(rx->len)) {
        sbx_ws_refuse(&item->why, SBX_WS_TOO_BIG, "message over 1 MiB");
        return fail(rx);
    }
    if (final) rx->in_message = 0;
    if (rx->channel < 0) {
        if (len == 0 && !final) return SBX_WSRX_NONE; /* the channel byte comes later */
        enum sbx_wsrx_kind k = begin(rx, p, len, final, is_text, item);
        if (k != SBX_WSRX_OUTPUT || rx->channel != SBX_WS_STATUS) return k;
        return carry(rx, p + 1, len - 1, final, item);
    }
    return carry(rx, p, len, final, item);
}
