/* The SSE parser against the WHATWG event-stream rules, fed whole, split at every byte
 * position, and byte by byte. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "sse.h"

/* Every dispatched event, serialised as "type|id|data-length:data;" for comparison. */
struct capture {
    struct sbx_buf out;
    int stop_after; /* stop parsing after this many events (0: never) */
    int events;
    const char *sink_type; /* events of this type go to the sink (NULL: none do) */
    struct sbx_buf sunk;   /* what the sink got of the current event */
};

static int sunk_events; /* events dispatched with their data sunk, in all */

static int on_event(void *ud, const char *type, const char *data, size_t len, const char *id)
{
    struct capture *c = ud;
    char head[256];
    int n = snprintf(head, sizeof head, "%s|%s|%zu:", type, id, len);
    sbx_buf_append(&c->out, head, (size_t)n);
    if (!data) { /* sunk: recorded as if it had come whole */
        CHECK(len == c->sunk.len, "sunk %zu bytes, event says %zu", c->sunk.len, len);
        sbx_buf_append(&c->out, c->sunk.data, c->sunk.len);
        sbx_buf_reset(&c->sunk);
        sunk_events++;
    } else {
        sbx_buf_append(&c->out, data, len);
    }
    sbx_buf_append(&c->out, ";", 1);
    c->events++;
    return c->stop_after && c->events >= c->stop_after;
}

static int sink_wants(void *ud, const char *type)
{
    struct capture *c = ud;
    return c->sink_type && strcmp(type, c->sink_type) == 0;
}

static int sink_data(void *ud, const char *bytes, size_t n)
{
    struct capture *c = ud;
    return sbx_buf_append(&c->sunk, bytes, n);
}

static void init_parser(struct sbx_sse *p, struct capture *c, size_t max_line)
{
    sbx_sse_init(p, on_event, c, max_line);
    if (c->sink_type) sbx_sse_set_sink(p, sink_wants, sink_data);
}

static char *take_capture(struct capture *c)
{
    sbx_buf_free(&c->sunk);
    return sbx_buf_take(&c->out, NULL);
}

/* Parses `in` fed in pieces of `step` bytes (0: whole), the data of events of type
 * `sink_type` (NULL: none) going to a sink; returns the capture (malloc'd). */
static char *parse_sinking(const char *in, size_t len, size_t step, const char *sink_type, int *rc)
{
    struct capture c = {.sink_type = sink_type};
    struct sbx_sse p;
    init_parser(&p, &c, 1 << 20);
    *rc = 0;
    if (!step) step = len ? len : 1;
    for (size_t i = 0; i < len && *rc == 0; i += step)
        *rc = sbx_sse_feed(&p, in + i, len - i < step ? len - i : step);
    sbx_sse_free(&p);
    return take_capture(&c);
}

static char *parse(const char *in, size_t len, size_t step, long *retry, int *rc)
{
    struct capture c = {0};
    struct sbx_sse p;
    sbx_sse_init(&p, on_event, &c, 1 << 20);
    *rc = 0;
    if (!step) step = len ? len : 1;
    for (size_t i = 0; i < len && *rc == 0; i += step)
        *rc = sbx_sse_feed(&p, in + i, len - i < step ? len - i : step);
    if (retry) *retry = p.retry_ms;
    sbx_sse_free(&p);
    return take_capture(&c);
}

static void expect(const char *name, const char *in, size_t len, const char *want)
{
    int rc;
    char *got = parse(in, len, 0, NULL, &rc);
    CHECK(rc == 0 && strcmp(got, want) == 0, "%s: got '%s' want '%s'", name, got, want);
    free(got);
}

#define EXPECT(name, in, want) expect(name, in, sizeof(in) - 1, want)

static void test_rules(void)
{
    EXPECT("LF", "data: a\n\n", "message||1:a;");
    EXPECT("CR", "data: a\r\r", "message||1:a;");
    EXPECT("CRLF", "data: a\r\n\r\n", "message||1:a;");
    EXPECT("mixed line ends", "event: x\rdata: a\r\ndata: b\n\r\n", "x||3:a\nb;");
    EXPECT("BOM skipped", "\xEF\xBB\xBF" "data: a\n\n", "message||1:a;");
    EXPECT("only the first BOM", "\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n", "");
    EXPECT("comments ignored", ": hello\n: keep-alive\n\ndata: a\n\n", "message||1:a;");
    EXPECT("multi-line data", "data: a\ndata:\ndata: c\n\n", "message||4:a\n\nc;");
    EXPECT("one leading space stripped", "data:  two\ndata:none\n\n", "message||9: two\nnone;");
    EXPECT("event type", "event: stdout\ndata: x\n\n", "stdout||1:x;");
    EXPECT("type resets after dispatch", "event: a\ndata: 1\n\ndata: 2\n\n", "a||1:1;message||1:2;");
    EXPECT("id persists", "id: 7\ndata: a\n\ndata: b\n\n", "message|7|1:a;message|7|1:b;");
    EXPECT("id with NUL ignored", "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n", "message|1|1:a;message|1|1:b;");
    EXPECT("field without colon", "data\n\n", "message||0:;");
    EXPECT("empty event not dispatched", "event: x\n\n\n\ndata: a\n\n", "message||1:a;");
    EXPECT("id-only event not dispatched", "id: 3\n\ndata: a\n\n", "message|3|1:a;");
    EXPECT("unknown field ignored", "foo: bar\ndata: a\n\n", "message||1:a;");
    EXPECT("unterminated event dropped", "data: a\n\ndata: b\n", "message||1:a;");
    EXPECT("NUL in data", "data: a\0b\n\n", "message||3:a\0b;");
    long retry;
    int rc;
    free(parse("retry: 2500\n\n", 13, 0, &retry, &rc));
    CHECK(retry == 2500, "retry %ld", retry);
    free(parse("retry: 25x\n\n", 12, 0, &retry, &rc));
    CHECK(retry == -1, "non-digit retry ignored, got %ld", retry);
}

static const char STREAM[] =
    "\xEF\xBB\xBF: comment\r\nevent: start\r\ndata: {\"pid\":1}\r\n\r\n"
    "event: stdout\nid: 3\ndata: aGkK\n\n"
    "event: stderr\rid: 8\rdata: b29w\rdata: cwo=\r\r"
    "data\n\nretry: 10\n: ka\n\n"
    "data:x\ndata:  y\ndata:\ndata: \n\n"  /* one space after the colon goes, not two */
    "event: end\r\ndata: {\"exit_code\":0}\r\n\r\n";

static void test_splits(void)
{
    size_t len = sizeof STREAM - 1;
    int rc;
    char *whole = parse(STREAM, len, 0, NULL, &rc);
    CHECK(rc == 0 && strstr(whole, "stdout|3|4:aGkK;") && strstr(whole, "end|8|"), "whole: %s", whole);
    CHECK(strstr(whole, "message|8|6:x\n y\n\n;") != NULL, "data values: %s", whole);
    for (size_t cut = 0; cut <= len; cut++) {
        struct capture c = {0};
        struct sbx_sse p;
        sbx_sse_init(&p, on_event, &c, 1 << 20);
        int r = sbx_sse_feed(&p, STREAM, cut) | sbx_sse_feed(&p, STREAM + cut, len - cut);
        char *got = sbx_buf_take(&c.out, NULL);
        CHECK(r == 0 && strcmp(got, whole) == 0, "split at %zu: %s", cut, got);
        free(got);
        sbx_sse_free(&p);
    }
    char *bytewise = parse(STREAM, len, 1, NULL, &rc);
    CHECK(rc == 0 && strcmp(bytewise, whole) == 0, "byte by byte: %s", bytewise);
    free(bytewise);
    free(whole);
}

static void test_limits(void)
{
    struct capture c = {0};
    struct sbx_sse p;
    sbx_sse_init(&p, on_event, &c, 16);
    CHECK(sbx_sse_feed(&p, "data: 0123456789abcdefghij\n\n", 28) == -1, "a line over the limit fails");
    CHECK(sbx_sse_feed(&p, "data: a\n\n", 9) == -1, "a failed parser stays failed");
    sbx_sse_free(&p);
    sbx_buf_free(&c.out);
    struct capture s = {.stop_after = 1};
    sbx_sse_init(&p, on_event, &s, 1024);
    CHECK(sbx_sse_feed(&p, "data: a\n\ndata: b\n\n", 18) == -1, "the callback can stop it");
    CHECK(s.events == 1, "events %d", s.events);
    sbx_sse_free(&p);
    sbx_buf_free(&s.out);
}

/* Feeds s whole or in pieces of `piece` bytes to a parser with a 16-byte limit; returns
 * the result and the captured events. */
static int feed_limited(const char *s, size_t piece, struct capture *c)
{
    struct sbx_sse p;
    init_parser(&p, c, 16);
    size_t len = strlen(s);
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; at += piece)
        rc = sbx_sse_feed(&p, s + at, len - at < piece ? len - at : piece);
    sbx_sse_free(&p);
    return rc;
}

/* The limits hold the same whether a data line arrives whole or in pieces (a split data
 * line goes straight into the event's data). */
static void test_limits_split(void)
{
    static const struct { const char *stream; int ok; } CASES[] = {
        {"data: 0123456789\n\n", 1},              /* a 16-byte line */
        {"data:0123456789ab\n\n", 0},             /* a 17-byte line */
        {"data: 0123456789a\n\n", 0},
        {"data: 01234567\ndata: 89abcdef\n\n", 0}, /* 17 bytes of data in all */
        {"data: 0123456\ndata: 789abcd\n\n", 1},   /* 16 */
    };
    for (int sinking = 0; sinking <= 1; sinking++) {
        for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
            for (size_t piece = 1; piece <= 40; piece++) {
                struct capture c = {.sink_type = sinking ? "message" : NULL};
                int rc = feed_limited(CASES[i].stream, piece, &c);
                CHECK((rc == 0) == CASES[i].ok, "case %zu in pieces of %zu, sink %d: rc %d", i, piece,
                      sinking, rc);
                free(take_capture(&c));
            }
        }
    }
}

/* A sink takes the data of the events it wants as it is parsed: the events come out the
 * same as without it, whether the stream arrives whole, split anywhere, or byte by byte. */
static void test_sink(void)
{
    size_t len = sizeof STREAM - 1;
    int rc;
    char *plain = parse(STREAM, len, 0, NULL, &rc);
    for (size_t i = 0; i < 2; i++) {
        const char *type = i ? "message" : "stdout";
        int before = sunk_events;
        char *whole = parse_sinking(STREAM, len, 0, type, &rc);
        CHECK(rc == 0 && strcmp(whole, plain) == 0, "sinking %s, whole: %s", type, whole);
        CHECK(sunk_events > before, "the sink took the %s events", type);
        for (size_t step = 1; step <= len; step++) {
            char *got = parse_sinking(STREAM, len, step, type, &rc);
            CHECK(rc == 0 && strcmp(got, plain) == 0, "sinking %s in pieces of %zu: %s", type, step, got);
            free(got);
        }
        free(whole);
    }
    free(plain);
    static const char CHANGED[] = "event: stdout\ndata: aGkK\nevent: stderr\n\n";
    free(parse_sinking(CHANGED, sizeof CHANGED - 1, 0, "stdout", &rc));
    CHECK(rc == -1, "a sunk event that changes its type fails the parse");
    static const char LATE[] = "data: aGkK\nevent: stdout\n\n";
    int before = sunk_events;
    char *late = parse_sinking(LATE, sizeof LATE - 1, 0, "stdout", &rc);
    CHECK(rc == 0 && strcmp(late, "stdout||4:aGkK;") == 0, "a type after the data: %s", late);
    CHECK(sunk_events == before, "an event typed after its data began is not sunk");
    free(late);
}

/* Between feeds, a parser holds buffers only for a line or an event under way, and the
 * last event id: a stream that waits costs no more than that. */
static void test_idle_buffers(void)
{
    struct capture c = {0};
    struct sbx_sse p;
    init_parser(&p, &c, 1024);
    static const char WHOLE[] = "event: start\ndata: {\"pid\":1}\nid: 7\n\n: keep-alive\n";
    CHECK(sbx_sse_feed(&p, WHOLE, sizeof WHOLE - 1) == 0, "a whole event");
    CHECK(!p.line.data && !p.data.data && !p.type.data, "no buffer left after a whole event");
    CHECK(p.last_id.len == 1 && p.last_id.data[0] == '7', "the last event id stays");
    static const char PART1[] = "event: std", PART2[] = "out\ndata: x", PART3[] = "\n\n";
    CHECK(sbx_sse_feed(&p, PART1, sizeof PART1 - 1) == 0 && p.line.len == 10, "a line under way stays");
    CHECK(sbx_sse_feed(&p, PART2, sizeof PART2 - 1) == 0 && p.type.len == 6, "an event under way stays");
    CHECK(!p.line.data, "the line buffer went once its line was done");
    CHECK(sbx_sse_feed(&p, PART3, sizeof PART3 - 1) == 0, "the event ends");
    CHECK(!p.line.data && !p.data.data && !p.type.data, "no buffer left once it was dispatched");
    char *got = take_capture(&c);
    CHECK(strcmp(got, "start|7|9:{\"pid\":1};stdout|7|1:x;") == 0, "events: %s", got);
    free(got);
    sbx_sse_free(&p);
}

int main(void)
{
    test_rules();
    test_splits();
    test_limits();
    test_limits_split();
    test_sink();
    test_idle_buffers();
    return check_report();
}
