/* libFuzzer target: the sbx.v1 message classifier. The first input byte says who
 * receives and whether the message came as text; the rest is the message. A message is
 * accepted exactly when the protocol's rules say so, its payload is the message after
 * the channel byte, and a refusal always carries a code and a reason that fits a close
 * frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "wschan.h"

static int peer_channel(int ch, enum sbx_ws_side side)
{
    if (side == SBX_WS_AT_SERVER) return ch == 0 || ch == 3 || ch == 4 || ch == 255;
    return ch == 1 || ch == 2 || ch == 3;
}

static int acceptable(const uint8_t *msg, size_t n, int text, enum sbx_ws_side side)
{
    if (text || n == 0 || n > SBX_WS_MSG_MAX || !peer_channel(msg[0], side)) return 0;
    return msg[0] != SBX_WS_CLOSE || n == 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    enum sbx_ws_side side = data[0] & 1 ? SBX_WS_AT_CLIENT : SBX_WS_AT_SERVER;
    int text = (data[0] & 2) != 0;
    const uint8_t *msg = data + 1;
    size_t n = size - 1;
    struct sbx_ws_msg m;
    int code = sbx_ws_classify(&m, msg, n, text, side);
    if (code != m.close_code) abort();
    if ((code == 0) != acceptable(msg, n, text, side)) abort();
    size_t rlen = strnlen(m.reason, sizeof m.reason);
    if (rlen > SBX_WS_REASON_MAX) abort();
    if (code == 0) {
        if (rlen != 0 || m.channel != msg[0] || m.len != n - 1 || m.payload != (const char *)msg + 1) abort();
        return 0;
    }
    if (rlen == 0) abort();
    if (code != SBX_WS_POLICY && code != SBX_WS_UNSUPPORTED && code != SBX_WS_TOO_BIG) abort();
    if (text ? code != SBX_WS_UNSUPPORTED : code == SBX_WS_UNSUPPORTED) abort();
    return 0;
}
