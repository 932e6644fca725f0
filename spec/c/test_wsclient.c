/* The client's side of sbx.v1 framing: incoming fragments become output chunks as they
 * come and whole status messages; protocol breaks fail once and for good; outgoing stdin
 * is bounded, split into messages, kept in order behind control messages, with the
 * headroom lws writes its frame header into. */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "wsrx.h"
#include "wstx.h"

static enum sbx_wsrx_kind feed(struct sbx_wsrx *rx, const char *p, size_t n, int first, int final,
                               struct sbx_wsrx_item *item)
{
    return sbx_wsrx_feed(rx, p, n, first, final, 0, item);
}

static void test_output_fragments(void)
{
    struct sbx_wsrx rx;
    struct sbx_wsrx_item it;
    sbx_wsrx_init(&rx);
    CHECK(feed(&rx, "\1a\0b", 4, 1, 1, &it) == SBX_WSRX_OUTPUT, "whole stdout message");
    CHECK(it.channel == 1 && it.len == 3 && memcmp(it.data, "a\0b", 3) == 0, "its bytes");
    CHECK(feed(&rx, "\2er", 3, 1, 0, &it) == SBX_WSRX_OUTPUT && it.channel == 2 && it.len == 2,
          "first fragment of stderr");
    CHECK(feed(&rx, "r!", 2, 0, 0, &it) == SBX_WSRX_OUTPUT && it.channel == 2 &&
          memcmp(it.data, "r!", 2) == 0, "middle fragment keeps the channel");
    CHECK(feed(&rx, "", 0, 0, 1, &it) == SBX_WSRX_OUTPUT && it.len == 0, "empty last fragment");
    CHECK(feed(&rx, "", 0, 1, 0, &it) == SBX_WSRX_NONE, "a first fragment without its channel");
    CHECK(feed(&rx, "\1x", 2, 0, 1, &it) == SBX_WSRX_OUTPUT && it.channel == 1 && it.len == 1,
          "the channel in the next fragment");
    CHECK(feed(&rx, "\1", 1, 1, 1, &it) == SBX_WSRX_OUTPUT && it.len == 0, "empty output");
    sbx_wsrx_free(&rx);
}

static void test_status_gathered(void)
{
    struct sbx_wsrx rx;
    struct sbx_wsrx_item it;
    sbx_wsrx_init(&rx);
    CHECK(feed(&rx, "\3{\"type\":", 9, 1, 0, &it) == SBX_WSRX_NONE, "status under way");
    CHECK(feed(&rx, "\"end\"", 5, 0, 0, &it) == SBX_WSRX_NONE, "still under way");
    CHECK(feed(&rx, "}", 1, 0, 1, &it) == SBX_WSRX_STATUS, "status at its last fragment");
    CHECK(it.len == 14 && memcmp(it.data, "{\"type\":\"end\"}", 14) == 0, "whole: %.*s",
          (int)it.len, it.data);
    CHECK(feed(&rx, "\3{}", 3, 1, 1, &it) == SBX_WSRX_STATUS && it.len == 2, "a second one alone");
    sbx_wsrx_reset(&rx);
    CHECK(feed(&rx, "\3{", 2, 1, 0, &it) == SBX_WSRX_NONE, "cut off by a new connection...");
    sbx_wsrx_reset(&rx);
    CHECK(feed(&rx, "}", 1, 0, 1, &it) == SBX_WSRX_FAIL, "...whose continuation is refused");
    sbx_wsrx_free(&rx);
}

static void test_protocol_breaks(void)
{
    struct sbx_wsrx rx;
    struct sbx_wsrx_item it;
    const struct {
        const char *what, *bytes;
        size_t len;
        int is_text, code;
    } cases[] = {
        {"text", "\1hi", 3, 1, SBX_WS_UNSUPPORTED},
        {"empty", "", 0, 0, SBX_WS_POLICY},
        {"stdin channel", "\0x", 2, 0, SBX_WS_POLICY},
        {"resize channel", "\4{}", 3, 0, SBX_WS_POLICY},
        {"close channel", "\xff\0", 2, 0, SBX_WS_POLICY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sbx_wsrx_init(&rx);
        enum sbx_wsrx_kind k = sbx_wsrx_feed(&rx, cases[i].bytes, cases[i].len, 1, 1, cases[i].is_text, &it);
        CHECK(k == SBX_WSRX_FAIL && it.why.close_code == cases[i].code, "%s: %d %d", cases[i].what,
              k, it.why.close_code);
        CHECK(feed(&rx, "\1ok", 3, 1, 1, &it) == SBX_WSRX_FAIL, "%s: nothing after", cases[i].what);
        sbx_wsrx_free(&rx);
    }
    sbx_wsrx_init(&rx);
    CHECK(feed(&rx, "x", 1, 0, 1, &it) == SBX_WSRX_FAIL, "a continuation first");
    sbx_wsrx_free(&rx);

    sbx_wsrx_init(&rx);
    char *chunk = calloc(1, 64 * 1024);
    chunk[0] = 3;
    enum sbx_wsrx_kind k = SBX_WSRX_NONE;
    size_t sent = 0;
    for (int first = 1; k == SBX_WSRX_NONE && sent <= SBX_WS_MSG_MAX; first = 0) {
        k = feed(&rx, chunk, 64 * 1024, first, 0, &it);
        sent += 64 * 1024;
    }
    CHECK(k == SBX_WSRX_FAIL && it.why.close_code == SBX_WS_TOO_BIG && sent == SBX_WS_MSG_MAX + 64 * 1024,
          "a status message over 1 MiB fails as it grows: %d after %zu", k, sent);
    sbx_wsrx_free(&rx);
    free(chunk);
}

/* Writes (as lws would) the next queued message and returns its first byte (channel). */
static int write_next(struct sbx_wstx *tx, size_t *len)
{
    struct sbx_wsmsg *m = sbx_wstx_next(tx);
    if (!m) return -1;
    int channel = m->bytes[0];
    *len = m->len;
    memset(m->bytes - LWS_PRE, 0xAA, LWS_PRE);  /* lws writes its header there... */
    for (size_t i = 0; i < m->len; i++) m->bytes[i] ^= 0x5C; /* ...and masks in place */
    sbx_wstx_written(tx, m);
    return channel;
}

static void test_stdin_bound_and_order(void)
{
    struct sbx_wstx tx;
    sbx_wstx_init(&tx);
    size_t big = SBX_WSTX_STDIN_MAX + 1000;
    char *data = malloc(big);
    memset(data, 'x', big);
    CHECK(sbx_wstx_push_stdin(&tx, data, big) == (long)SBX_WSTX_STDIN_MAX, "the bound takes what fits");
    CHECK(sbx_wstx_push_stdin(&tx, data, 10) == 0, "a full queue takes nothing");
    CHECK(sbx_wstx_push_control(&tx, 3, "{\"signal\":\"SIGINT\"}", 19, 0) == 0, "a signal");
    size_t len;
    CHECK(write_next(&tx, &len) == 3 && len == 20, "control goes before queued stdin");
    CHECK(write_next(&tx, &len) == 0 && len == SBX_WSTX_CHUNK + 1, "stdin in chunks");
    CHECK(tx.stdin_written == SBX_WSTX_CHUNK, "written counted: %llu", (unsigned long long)tx.stdin_written);
    CHECK(sbx_wstx_push_stdin(&tx, data, big) == (long)SBX_WSTX_CHUNK, "room again, as much as was written");
    CHECK(sbx_wstx_push_eof(&tx) == 0 && tx.eof_queued, "EOF queued");
    int channel, last = -2, n = 0;
    while ((channel = write_next(&tx, &len)) >= 0) last = channel, n++;
    CHECK(last == 255 && n == 5, "EOF after every stdin byte: %d after %d", last, n);
    CHECK(tx.stdin_written == tx.stdin_accepted && tx.stdin_accepted == SBX_WSTX_STDIN_MAX + SBX_WSTX_CHUNK,
          "every accepted byte written");
    CHECK(!sbx_wstx_pending(&tx), "nothing left");
    sbx_wstx_clear(&tx);
    free(data);
}

static void test_control_bound_and_urgent(void)
{
    struct sbx_wstx tx;
    sbx_wstx_init(&tx);
    char payload[1024] = {0};
    int rc = 0, n = 0;
    while ((rc = sbx_wstx_push_control(&tx, 4, payload, sizeof payload, 0)) == 0) n++;
    CHECK(rc == 1 && n == (int)(SBX_WSTX_CONTROL_MAX / sizeof payload), "control bound: %d", n);
    sbx_wstx_push_stdin(&tx, "abc", 3);
    CHECK(sbx_wstx_push_control(&tx, 3, "{\"signal\":\"SIGKILL\"}", 20, 1) == 0, "urgent ignores it");
    size_t len;
    CHECK(write_next(&tx, &len) == 3, "urgent goes first");
    sbx_wstx_drop_input(&tx);
    CHECK(tx.stdin_queued == 0, "stdin dropped");
    while (write_next(&tx, &len) == 4) n--;
    CHECK(n == 0 && tx.control_queued == 0 && !sbx_wstx_pending(&tx), "control kept and written");
    sbx_wstx_clear(&tx);
}

/* The payload of the next queued message (its bytes as queued, before write_next masks
 * them), and its channel; -1 when none. */
static int peek_next(const struct sbx_wstx *tx, const unsigned char **payload, size_t *len)
{
    struct sbx_wsmsg *m = sbx_wstx_next(tx);
    if (!m) return -1;
    *payload = m->bytes + 1;
    *len = m->len - 1;
    return m->bytes[0];
}

static void test_stdin_sent_again(void)
{
    struct sbx_wstx tx;
    sbx_wstx_init(&tx);
    const unsigned char *p = NULL;
    size_t len = 0;
    CHECK(sbx_wstx_push_stdin(&tx, "abcdef", 6) == 6, "stdin");
    while (write_next(&tx, &len) >= 0) {}
    CHECK(tx.stdin_written == 6 && tx.kept.len == 6 && tx.kept.from == 0, "written, and kept");
    tx.held = 1; /* a new connection */
    CHECK(sbx_wstx_push_stdin(&tx, "gh", 2) == 2 && sbx_wstx_push_eof(&tx) == 0, "stdin and EOF while held");
    CHECK(!sbx_wstx_pending(&tx) && !sbx_wstx_next(&tx), "held: no stdin goes");
    CHECK(sbx_wstx_push_control(&tx, 3, "{}", 2, 0) == 0 && write_next(&tx, &len) == 3, "control goes");
    /* the server has 2 units: the rest goes again, as it was (the kept copy, unmasked) */
    CHECK(sbx_wstx_resume_stdin(&tx, 1, 2) == 0 && !tx.held && tx.stdin_written == 2, "resumed at 2");
    CHECK(peek_next(&tx, &p, &len) == 0 && len == 6 && memcmp(p, "cdefgh", 6) == 0, "from unit 2: %.*s",
          (int)len, (const char *)p);
    CHECK(write_next(&tx, &len) == 0 && write_next(&tx, &len) == 255 && write_next(&tx, &len) < 0,
          "then the EOF, once");
    CHECK(tx.stdin_written == 8, "written again: %llu", (unsigned long long)tx.stdin_written);
    sbx_wstx_stdin_counted(&tx, 5);
    CHECK(tx.kept.from == 5 && tx.kept.len == 3, "counted: what came goes (%llu, %zu)",
          (unsigned long long)tx.kept.from, tx.kept.len);
    CHECK(sbx_wstx_resume_stdin(&tx, 1, 1) == 0 && peek_next(&tx, &p, &len) == 0 && len == 3 &&
          memcmp(p, "fgh", 3) == 0, "a count below one counted before: from what is kept");
    /* units: the 8 bytes, then the EOF */
    CHECK(sbx_wstx_resume_stdin(&tx, 1, 8) == 0 && write_next(&tx, &len) == 255 && !sbx_wstx_pending(&tx),
          "all but the EOF: the EOF again");
    CHECK(sbx_wstx_resume_stdin(&tx, 1, 9) == 0 && !sbx_wstx_pending(&tx), "all and the EOF: nothing again");
    CHECK(sbx_wstx_resume_stdin(&tx, 0, 0) == 0 && !tx.keep && tx.kept.len == 0, "a server with no count");
    sbx_wstx_clear(&tx);
    sbx_wstx_init(&tx);
    CHECK(sbx_wstx_resume_stdin(&tx, 0, 0) == 0 && sbx_wstx_push_stdin(&tx, "i", 1) == 1 && tx.kept.len == 0,
          "nothing kept once a server said no count");
    sbx_wstx_clear(&tx);
}

int main(void)
{
    test_output_fragments();
    test_status_gathered();
    test_protocol_breaks();
    test_stdin_bound_and_order();
    test_control_bound_and_urgent();
    test_stdin_sent_again();
    return check_report();
}
