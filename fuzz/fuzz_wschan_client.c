/* libFuzzer target: the client's reading of incoming sbx.v1 messages (csrc/core/wsrx.c),
 * fed fragments as lws hands them over. The input is a sequence of fragments, each a
 * flags byte (1: first of its message, 2: last, 4: the message is text, 8: the fragment
 * is `len` KiB of filler, so that messages can pass 1 MiB), a length byte, then (without
 * flag 8) that many bytes.
 *
 * Checked against a model that gathers each message whole: output is handed on exactly
 * as the message's payload, on its channel; a status message whole at its last fragment;
 * a failure exactly when the protocol is broken (a continuation outside a message, text,
 * an empty message, a channel the client does not accept, over 1 MiB), with a close code
 * and a reason; and after a failure nothing but failures. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "wsrx.h"

struct model {
    int in_message, text, failed;
    size_t len;                       /* message bytes so far */
    unsigned char channel;
    unsigned char *handed;            /* what the reader handed on of this message */
    size_t nhanded;
};

static int accepted_channel(unsigned char c)
{
    return c == SBX_WS_STDOUT || c == SBX_WS_STDERR || c == SBX_WS_STATUS;
}

/* Whether the fragment breaks the protocol, by the model. */
static int breaks(struct model *m, const unsigned char *p, size_t n, int first, int final, int text)
{
    if (first) {
        m->in_message = 1;
        m->len = 0;
        m->text = text;
        m->nhanded = 0;
    } else if (!m->in_message) {
        return 1;
    }
    if (m->len == 0 && n > 0) m->channel = p[0];
    m->len += n;
    if (m->len > SBX_WS_MSG_MAX) return 1;
    if (m->len > 0 && (m->text || !accepted_channel(m->channel))) return 1;
    return final && m->len == 0;
}

static void check_item(struct model *m, enum sbx_wsrx_kind k, const struct sbx_wsrx_item *it,
                       const unsigned char *p, size_t n, int final)
{
    if (k == SBX_WSRX_OUTPUT) {
        if (it->channel != m->channel || (it->channel != 1 && it->channel != 2)) abort();
        if (it->len && ((const unsigned char *)it->data < p ||
                        (const unsigned char *)it->data + it->len > p + n)) abort();
        memcpy(m->handed + m->nhanded, it->data, it->len);
        m->nhanded += it->len;
    } else if (k == SBX_WSRX_STATUS) {
        if (!final || it->channel != SBX_WS_STATUS || m->channel != SBX_WS_STATUS) abort();
        memcpy(m->handed + m->nhanded, it->data, it->len);
        m->nhanded += it->len;
    } else if (k == SBX_WSRX_NONE) {
        if (final && m->len > 0) abort(); /* a whole message always yields */
    }
    if (m->len && m->nhanded > m->len - 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char filler[255 * 1024];
    static unsigned char *msg;  /* the message's bytes, by the model: for the comparison */
    if (!msg && !(msg = malloc(SBX_WS_MSG_MAX + sizeof filler))) return 0;
    memset(filler, SBX_WS_STDOUT, sizeof filler);
    struct model m = {0};
    static unsigned char handed[SBX_WS_MSG_MAX];
    m.handed = handed;
    struct sbx_wsrx rx;
    sbx_wsrx_init(&rx);
    size_t at = 0;
    while (at + 2 <= size) {
        int flags = data[at], first = flags & 1, final = (flags & 2) != 0;
        size_t n = data[at + 1];
        const unsigned char *p;
        at += 2;
        if (flags & 8) {
            n *= 1024;
            p = filler;
        } else {
            if (n > size - at) n = size - at;
            p = data + at;
            at += n;
        }
        int text = first ? (flags & 4) != 0 : m.text;
        size_t before = first ? 0 : m.len;
        int broken = m.failed || breaks(&m, p, n, first, final, text);
        if (!broken && m.len <= SBX_WS_MSG_MAX) memcpy(msg + before, p, n);
        struct sbx_wsrx_item it;
        enum sbx_wsrx_kind k = sbx_wsrx_feed(&rx, p, n, first, final, text, &it);
        if (broken != (k == SBX_WSRX_FAIL)) abort();
        if (broken) {
            int code = it.why.close_code;
            if (code != SBX_WS_POLICY && code != SBX_WS_UNSUPPORTED && code != SBX_WS_TOO_BIG) abort();
            if (!it.why.reason[0]) abort();
            m.failed = 1;
            continue;
        }
        check_item(&m, k, &it, p, n, final);
        if (memcmp(m.handed, msg + 1, m.nhanded) != 0) abort();
        if (final) {
            if (m.nhanded != m.len - 1) abort(); /* every payload byte handed on */
            m.in_message = 0;
        }
    }
    sbx_wsrx_free(&rx);
    return 0;
}
