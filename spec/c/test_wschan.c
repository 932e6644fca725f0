/* wschan: each side accepts its peer's channels only; empty, text, oversize and
 * malformed close-channel messages get the close code the protocol gives them. */
#include <stdlib.h>
#include <string.h>
#include "wschan.h"
#include "check.h"

static int classify(struct sbx_ws_msg *m, const char *data, size_t len, enum sbx_ws_side side)
{
    return sbx_ws_classify(m, data, len, 0, side);
}

static void test_server_channels(void)
{
    struct sbx_ws_msg m;
    CHECK(classify(&m, "\0a\0b", 4, SBX_WS_AT_SERVER) == 0, "stdin");
    CHECK(m.channel == SBX_WS_STDIN && m.len == 3 && memcmp(m.payload, "a\0b", 3) == 0,
          "stdin payload");
    CHECK(classify(&m, "\0", 1, SBX_WS_AT_SERVER) == 0 && m.len == 0, "empty stdin payload");
    CHECK(classify(&m, "\3{}", 3, SBX_WS_AT_SERVER) == 0 && m.channel == 3, "control");
    CHECK(classify(&m, "\4{}", 3, SBX_WS_AT_SERVER) == 0 && m.channel == 4, "resize");
    CHECK(classify(&m, "\xff\0", 2, SBX_WS_AT_SERVER) == 0 && m.channel == 255 &&
          m.len == 1 && m.payload[0] == 0, "close stdin");
    for (int c = 0; c < 256; c++) {
        char msg[2] = {(char)c, 0};
        int ok = c == 0 || c == 3 || c == 4 || c == 255;
        int code = classify(&m, msg, 2, SBX_WS_AT_SERVER);
        CHECK(ok ? code == 0 : code == SBX_WS_POLICY, "server, channel %d: %d", c, code);
        CHECK(ok || strstr(m.reason, "unknown channel"), "reason %s", m.reason);
    }
}

static void test_client_channels(void)
{
    struct sbx_ws_msg m;
    CHECK(classify(&m, "\1out", 4, SBX_WS_AT_CLIENT) == 0 && m.channel == 1 && m.len == 3,
          "stdout");
    CHECK(classify(&m, "\2", 1, SBX_WS_AT_CLIENT) == 0 && m.channel == 2 && m.len == 0,
          "empty stderr");
    for (int c = 0; c < 256; c++) {
        char msg[2] = {(char)c, 'x'};
        int ok = c == 1 || c == 2 || c == 3;
        int code = classify(&m, msg, 2, SBX_WS_AT_CLIENT);
        CHECK(ok ? code == 0 : code == SBX_WS_POLICY, "client, channel %d: %d", c, code);
    }
}

static void test_refusals(void)
{
    struct sbx_ws_msg m;
    CHECK(classify(&m, "", 0, SBX_WS_AT_SERVER) == SBX_WS_POLICY && m.channel == -1,
          "empty message");
    CHECK(strstr(m.reason, "empty") != NULL, "reason %s", m.reason);
    CHECK(sbx_ws_classify(&m, "\0a", 2, 1, SBX_WS_AT_SERVER) == SBX_WS_UNSUPPORTED, "text");
    CHECK(classify(&m, "\xff", 1, SBX_WS_AT_SERVER) == SBX_WS_POLICY, "close without channel");
    CHECK(classify(&m, "\xff\0\0", 3, SBX_WS_AT_SERVER) == SBX_WS_POLICY, "close, two bytes");
    char *big = calloc(1, SBX_WS_MSG_MAX + 1);
    CHECK(classify(&m, big, SBX_WS_MSG_MAX, SBX_WS_AT_SERVER) == 0 &&
          m.len == SBX_WS_PAYLOAD_MAX, "largest message");
    CHECK(classify(&m, big, SBX_WS_MSG_MAX + 1, SBX_WS_AT_SERVER) == SBX_WS_TOO_BIG, "too big");
    CHECK(sbx_ws_too_big(SBX_WS_MSG_MAX + 1) && !sbx_ws_too_big(SBX_WS_MSG_MAX), "bound");
    free(big);
    char long_reason[300];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    CHECK(sbx_ws_refuse(&m, SBX_WS_POLICY, long_reason) == SBX_WS_POLICY &&
          strlen(m.reason) == SBX_WS_REASON_MAX, "reason truncated");
    /* "é" is two bytes: one that would end at byte 124 is left out whole */
    char accented[200];
    memset(accented, 'a', 122);
    strcpy(accented + 122, "\xc3\xa9 and more");
    char out[SBX_WS_REASON_MAX + 1];
    sbx_ws_set_reason(out, accented);
    CHECK(strlen(out) == 122, "cut before the character: %zu", strlen(out));
    accented[121] = '\0';
    sbx_ws_set_reason(out, accented);
    CHECK(strcmp(out, accented) == 0, "a short reason is kept");
}

int main(void)
{
    test_server_channels();
    test_client_channels();
    test_refusals();
    return check_report();
}
