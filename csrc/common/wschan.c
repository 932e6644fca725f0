/* The classifier of received sbx.v1 messages (wschan.h): pure, no allocation, so that
 * the server, the client and the fuzzer share one reading of the rules. */
#include <stdio.h>
#include <string.h>
#include "wschan.h"

int sbx_ws_too_big(size_t len)
{
    return len > SBX_WS_MSG_MAX;
}

void sbx_ws_set_reason(char out[SBX_WS_REASON_MAX + 1], const char *reason)
{
    size_t n = strnlen(reason, SBX_WS_REASON_MAX + 1);
    if (n > SBX_WS_REASON_MAX) {
        n = SBX_WS_REASON_MAX;
        /* reason[n] is the first byte left out: if it continues a character, that
         * character's first bytes go too */
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80) n--;
    }
    memcpy(out, reason, n);
    out[n] = '\0';
}

int sbx_ws_refuse(struct sbx_ws_msg *m, int code, const char *reason)
{
    m->close_code = code;
    sbx_ws_set_reason(m->reason, reason);
    return code;
}

/* The channels each side's peer may send. */
static int accepted(int channel, enum sbx_ws_side side)
{
    if (side == SBX_WS_AT_SERVER)
        return channel == SBX_WS_STDIN || channel == SBX_WS_STATUS ||
               channel == SBX_WS_RESIZE || channel == SBX_WS_CLOSE;
    return channel == SBX_WS_STDOUT || channel == SBX_WS_STDERR || channel == SBX_WS_STATUS;
}

int sbx_ws_classify(struct sbx_ws_msg *m, const void *data, size_t len, int is_text,
                    enum sbx_ws_side side)
{
    const unsigned char *p = data;
    m->channel = len ? p[0] : -1;
    m->payload = len ? (const char *)p + 1 : NULL;
    m->len = len ? len - 1 : 0;
    m->close_code = 0;
    m->reason[0] = '\0';
    if (is_text) return sbx_ws_refuse(m, SBX_WS_UNSUPPORTED, "text message (sbx.v1 is binary)");
    if (sbx_ws_too_big(len)) return sbx_ws_refuse(m, SBX_WS_TOO_BIG, "message over 1 MiB");
    if (len == 0) return sbx_ws_refuse(m, SBX_WS_POLICY, "empty message (no channel byte)");
    if (!accepted(m->channel, side)) {
        char why[48];
        snprintf(why, sizeof why, "unknown channel %d", m->channel);
        return sbx_ws_refuse(m, SBX_WS_POLICY, why);
    }
    if (m->channel == SBX_WS_CLOSE && m->len != 1)
        return sbx_ws_refuse(m, SBX_WS_POLICY, "close-channel message is not one byte");
    return 0;
}
