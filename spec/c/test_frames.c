/* The frames decoder (docs/PROTOCOL.md "Binary frames"): fed whole, split at every byte
 * position and byte by byte, its limits, and the answer that picks it by Content-Type:
 * events, collected output, resume offsets, and a cut in the middle of a frame. */
#include <stdlib.h>
#include <string.h>
#include "answer.h"
#include "check.h"
#include "frames.h"

/* Every call, serialised as text for comparison. */
struct capture {
    struct sbx_buf out;
    int stop_at_end; /* stop the stream at an end frame */
};

static void say(struct capture *c, const char *s)
{
    sbx_buf_append(&c->out, s, strlen(s));
}

static int on_begin(void *ud, int channel, uint64_t offset)
{
    char s[64];
    snprintf(s, sizeof s, "<%d@%llu:", channel, (unsigned long long)offset);
    say(ud, s);
    return 0;
}

static int on_data(void *ud, const char *bytes, size_t n)
{
    struct capture *c = ud;
    sbx_buf_append(&c->out, bytes, n);
    return 0;
}

static int on_end(void *ud, int channel, uint64_t offset)
{
    char s[64];
    snprintf(s, sizeof s, ">%d@%llu;", channel, (unsigned long long)offset);
    say(ud, s);
    return 0;
}

static int on_event(void *ud, const char *type, const char *data, size_t len)
{
    struct capture *c = ud;
    say(c, type);
    say(c, "=");
    sbx_buf_append(&c->out, data, len);
    say(c, ";");
    return c->stop_at_end && strcmp(type, "end") == 0;
}

static const struct sbx_frames_fns FNS = {on_begin, on_data, on_end, on_event};

/* Appends a frame: type, length, payload. */
static void frame(struct sbx_buf *b, int type, const void *payload, size_t n)
{
    unsigned char head[5] = {(unsigned char)type, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n};
    sbx_buf_append(b, head, 5);
    sbx_buf_append(b, payload, n);
}

/* Appends an output frame: channel 0 or 1, offset_after, bytes. */
static void output(struct sbx_buf *b, int channel, uint64_t offset, const void *bytes, size_t n)
{
    unsigned char *p = malloc(8 + n);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(offset >> (56 - 8 * i));
    memcpy(p + 8, bytes, n);
    frame(b, channel + 1, p, 8 + n);
    free(p);
}

/* Decodes s in pieces of `step` bytes (0: whole); the calls made, *rc the last result. */
static char *decode(const char *s, size_t len, size_t step, int *rc)
{
    struct capture c = {0};
    struct sbx_frames F;
    sbx_frames_init(&F, &FNS, &c);
    *rc = 0;
    if (step == 0) step = len ? len : 1;
    for (size_t i = 0; i < len && *rc == 0; i += step)
        *rc = sbx_frames_feed(&F, s + i, len - i < step ? len - i : step);
    if (len == 0) *rc = sbx_frames_feed(&F, "", 0);
    sbx_frames_free(&F);
    sbx_buf_append(&c.out, "", 0);
    return sbx_buf_take(&c.out, NULL);
}

/* A stream of every frame type, with the expected calls. */
static void sample(struct sbx_buf *b)
{
    frame(b, SBX_FRAME_START, "{\"pid\":7}", 9);
    frame(b, SBX_FRAME_KEEPALIVE, "", 0);
    output(b, 0, 5, "hello", 5);
    output(b, 1, 9, "oops", 4);
    output(b, 0, 9, "", 0);
    output(b, 0, 11, "\0\n", 2);
    frame(b, SBX_FRAME_END, "{\"exit_code\":0}", 15);
}

static const char SAMPLE_CALLS[] = "start={\"pid\":7};<0@5:hello>0@5;<1@9:oops>1@9;<0@9:>0@9;"
                                   "<0@11:\0\n>0@11;end={\"exit_code\":0};";

static void test_splits(void)
{
    struct sbx_buf b = {0};
    sample(&b);
    size_t want_len = sizeof SAMPLE_CALLS - 1;
    for (size_t step = 0; step <= b.len; step++) {
        int rc;
        char *got = decode(b.data, b.len, step, &rc);
        CHECK(rc == 0, "step %zu: rc %d", step, rc);
        CHECK(memcmp(got, SAMPLE_CALLS, want_len) == 0 && got[want_len] == '\0', "step %zu: %s", step, got);
        free(got);
    }
    /* split at every position into two feeds */
    for (size_t cut = 0; cut <= b.len; cut++) {
        struct capture c = {0};
        struct sbx_frames F;
        sbx_frames_init(&F, &FNS, &c);
        int rc = sbx_frames_feed(&F, b.data, cut) | sbx_frames_feed(&F, b.data + cut, b.len - cut);
        CHECK(rc == 0 && c.out.len == want_len && memcmp(c.out.data, SAMPLE_CALLS, want_len) == 0,
              "cut at %zu", cut);
        CHECK(sbx_frames_between(&F), "cut at %zu: ends between frames", cut);
        sbx_frames_free(&F);
        sbx_buf_free(&c.out);
    }
    sbx_buf_free(&b);
}

/* A malformed frame fails the stream, split anywhere, and every feed after it. */
static void expect_malformed(const char *name, const struct sbx_buf *b, const char *error)
{
    for (size_t step = 0; step <= b->len; step++) {
        int rc;
        free(decode(b->data, b->len, step, &rc));
        CHECK(rc == -1, "%s: step %zu accepted", name, step);
    }
    struct capture c = {0};
    struct sbx_frames F;
    sbx_frames_init(&F, &FNS, &c);
    CHECK(sbx_frames_feed(&F, b->data, b->len) == -1, "%s", name);
    CHECK(F.error && strcmp(F.error, error) == 0, "%s: says %s", name, F.error ? F.error : "nothing");
    struct sbx_buf more = {0};
    frame(&more, SBX_FRAME_KEEPALIVE, "", 0);
    CHECK(sbx_frames_feed(&F, more.data, more.len) == -1, "%s: goes on after a failure", name);
    sbx_frames_free(&F);
    sbx_buf_free(&c.out);
    sbx_buf_free(&more);
}

static void test_limits(void)
{
    struct sbx_buf b = {0};
    frame(&b, 0, "", 0);
    expect_malformed("type 0", &b, "a frame of an unknown type");
    sbx_buf_reset(&b), frame(&b, 6, "", 0);
    expect_malformed("type 6", &b, "a frame of an unknown type");
    sbx_buf_reset(&b), frame(&b, SBX_FRAME_STDOUT, "1234567", 7);
    expect_malformed("output of 7 bytes", &b, "an output frame shorter than its offset");
    sbx_buf_reset(&b), frame(&b, SBX_FRAME_STDERR, "", 0);
    expect_malformed("empty stderr frame", &b, "an output frame shorter than its offset");
    /* a head saying one byte over the bound: refused before any payload is read */
    unsigned char over[5] = {SBX_FRAME_STDOUT, 0x00, 0x10, 0x00, 0x09};
    sbx_buf_reset(&b), sbx_buf_append(&b, over, 5);
    expect_malformed("1 MiB + 9", &b, "a frame over the 1 MiB limit");
    unsigned char huge[5] = {SBX_FRAME_START, 0xff, 0xff, 0xff, 0xff};
    sbx_buf_reset(&b), sbx_buf_append(&b, huge, 5);
    expect_malformed("4 GiB start", &b, "a frame over the 1 MiB limit");

    /* exactly at the bound: accepted, the bytes delivered whole */
    char *big = malloc(SBX_FRAME_MAX_OUTPUT);
    memset(big, 'x', SBX_FRAME_MAX_OUTPUT);
    sbx_buf_reset(&b), output(&b, 1, SBX_FRAME_MAX_OUTPUT, big, SBX_FRAME_MAX_OUTPUT);
    int rc;
    char *got = decode(b.data, b.len, 4096, &rc);
    CHECK(rc == 0, "a frame of 1 MiB + 8 is accepted");
    CHECK(strlen(got) == SBX_FRAME_MAX_OUTPUT + strlen("<1@1048576:>1@1048576;"), "its bytes, once");
    free(got);
    free(big);
    sbx_buf_free(&b);
}

static void test_receiver_stops(void)
{
    struct sbx_buf b = {0};
    sample(&b);
    frame(&b, SBX_FRAME_START, "{}", 2);
    struct capture c = {.stop_at_end = 1};
    struct sbx_frames F;
    sbx_frames_init(&F, &FNS, &c);
    CHECK(sbx_frames_feed(&F, b.data, b.len) == -1, "a receiver that stops fails the stream");
    CHECK(c.out.len == sizeof SAMPLE_CALLS - 1, "nothing is called after it stopped");
    sbx_frames_free(&F);
    sbx_buf_free(&c.out);
    sbx_buf_free(&b);
}

/* --- the answer: frames and SSE reach Lua alike ------------------------------------- */

struct fixture {
    struct sbx_loop loop;  /* never run: the scheduler only asks whether it is in a run */
    struct sbx_sched sched;
    struct sbx_sched_node node;
    struct sbx_answer A;
};

static void fixture_init(struct fixture *f, int collect, int chunks)
{
    memset(f, 0, sizeof *f);
    sbx_sched_init(&f->sched, &f->loop);
    sbx_answer_init(&f->A, &f->sched, &f->node, 1, collect, chunks);
}

static void fixture_free(struct fixture *f)
{
    sbx_sched_forget(&f->sched, &f->node);
    sbx_answer_free(&f->A);
}

/* The queued events, serialised as "event|id|data;" (a head as "head status;"). */
static char *drain(struct fixture *f)
{
    struct sbx_buf out = {0};
    struct sbx_event *ev;
    char s[128];
    while ((ev = sbx_answer_peek(&f->A))) {
        sbx_answer_take(&f->A, ev, ev->len - ev->taken); /* the whole event, as Lua takes it */
        if (ev->type == SBX_EV_HEAD) snprintf(s, sizeof s, "head %ld;", ev->status);
        else if (ev->type == SBX_EV_EVENT) snprintf(s, sizeof s, "%s|%s|", ev->name, ev->id ? ev->id : "");
        else snprintf(s, sizeof s, "other;");
        sbx_buf_append(&out, s, strlen(s));
        if (ev->type == SBX_EV_EVENT) {
            sbx_buf_append(&out, sbx_event_bytes(ev), ev->len);
            sbx_buf_append(&out, ";", 1);
        }
        sbx_event_free(ev);
    }
    sbx_buf_append(&out, "", 0);
    return sbx_buf_take(&out, NULL);
}

static const char SSE_SAMPLE[] = "event: start\ndata: {\"pid\":7}\n\n:keep-alive\n\n"
                                 "event: stdout\nid: 5\ndata: aGVsbG8=\n\n"
                                 "event: stderr\nid: 9\ndata: b29wcw==\n\n"
                                 "event: stdout\nid: 11\ndata: AAo=\n\n"
                                 "event: end\ndata: {\"exit_code\":0}\n\n";

static const char EVENTS[] = "head 200;start||{\"pid\":7};stdout|5|hello;stderr|9|oops;stdout|9|;"
                             "stdout|11|\0\n;end||{\"exit_code\":0};";
static const char EVENTS_SSE[] = "head 200;start||{\"pid\":7};stdout|5|hello;stderr|9|oops;"
                                 "stdout|11|\0\n;end|11|{\"exit_code\":0};";

static void check_events(const char *name, char *got, const char *want, size_t want_len)
{
    CHECK(memcmp(got, want, want_len) == 0 && got[want_len] == '\0', "%s: %s", name, got);
    free(got);
}

static void test_answer_picks_the_decoder(void)
{
    struct sbx_buf b = {0};
    sample(&b);
    struct fixture f;
    fixture_init(&f, 1, 1);
    sbx_answer_head(&f.A, 200, "application/vnd.sbx.frames");
    CHECK(f.A.streaming == SBX_STREAM_FRAMES, "frames by Content-Type");
    for (size_t i = 0; i < b.len; i++) CHECK(sbx_answer_body(&f.A, b.data + i, 1) == 0, "byte %zu", i);
    check_events("frames", drain(&f), EVENTS, sizeof EVENTS - 1);
    CHECK(f.A.out.output[0].len == 7 && memcmp(f.A.out.output[0].data, "hello\0\n", 7) == 0, "stdout collected");
    CHECK(f.A.offset == 11, "offset %lld", (long long)f.A.offset);
    CHECK(f.A.ended, "the end event came");
    fixture_free(&f);

    fixture_init(&f, 1, 1);
    sbx_answer_head(&f.A, 200, "text/event-stream; charset=utf-8");
    CHECK(f.A.streaming == SBX_STREAM_SSE, "SSE by Content-Type");
    CHECK(sbx_answer_body(&f.A, SSE_SAMPLE, sizeof SSE_SAMPLE - 1) == 0, "SSE sample");
    /* SSE's last event id outlives its event: the end event carries it */
    check_events("sse", drain(&f), EVENTS_SSE, sizeof EVENTS_SSE - 1);
    CHECK(f.A.offset == 11, "SSE offset %lld", (long long)f.A.offset);
    fixture_free(&f);

    fixture_init(&f, 1, 1);
    sbx_answer_head(&f.A, 200, "application/vnd.sbx.framesX");
    CHECK(f.A.streaming == SBX_STREAM_NONE, "another media type is a plain body");
    fixture_free(&f);
    fixture_init(&f, 1, 1);
    sbx_answer_head(&f.A, 404, "application/vnd.sbx.frames");
    CHECK(f.A.streaming == SBX_STREAM_NONE, "a refusal is a plain body");
    fixture_free(&f);
    sbx_buf_free(&b);
}

static void test_answer_malformed(void)
{
    struct fixture f;
    fixture_init(&f, 1, 0);
    sbx_answer_head(&f.A, 200, "application/vnd.sbx.frames");
    struct sbx_buf b = {0};
    frame(&b, 9, "", 0);
    CHECK(sbx_answer_body(&f.A, b.data, b.len) == -1, "an unknown type stops the transfer");
    CHECK(f.A.failure && strstr(f.A.failure, "malformed") && strstr(f.A.failure, "unknown type"),
          "says %s", f.A.failure ? f.A.failure : "nothing");
    sbx_buf_free(&b);
    fixture_free(&f);
}

/* A stream cut in the middle of an output event: the collected bytes are those of the
 * complete events, and the offset is the last complete one's, so that a resume from it
 * adds exactly what is missing. Then the partial bytes stay for a later hand-over. */
static void test_cut_mid_event(int frames)
{
    struct sbx_buf b = {0};
    const char *name = frames ? "frames" : "sse";
    if (frames) {
        output(&b, 0, 3, "abc", 3);
        output(&b, 1, 5, "EE", 2);
        output(&b, 0, 9, "defg", 4);
    } else {
        const char s[] = "event: stdout\nid: 3\ndata: YWJj\n\nevent: stderr\nid: 5\ndata: RUU=\n\n"
                         "event: stdout\nid: 9\ndata: ZGVmZw==\n\n";
        sbx_buf_append(&b, s, sizeof s - 1);
    }
    for (size_t cut = 0; cut < b.len; cut++) {
        struct fixture f;
        fixture_init(&f, 1, 0);
        sbx_answer_head(&f.A, 200, frames ? "application/vnd.sbx.frames" : "text/event-stream");
        CHECK(sbx_answer_body(&f.A, b.data, cut) == 0, "%s cut %zu", name, cut);
        int64_t off = f.A.offset;
        size_t out0 = sbx_outdec_complete(&f.A.out, 0), out1 = sbx_outdec_complete(&f.A.out, 1);
        /* what was complete: offsets 0..off hold out0 + out1 bytes */
        CHECK((off < 0 && out0 + out1 == 0) || (int64_t)(out0 + out1) == off,
              "%s cut %zu: offset %lld, %zu + %zu bytes", name, cut, (long long)off, out0, out1);
        CHECK(memcmp(f.A.out.output[0].data ? f.A.out.output[0].data : "", "abcdefg", out0) == 0,
              "%s cut %zu: stdout", name, cut);
        /* hand the complete bytes over, then the rest of the stream comes */
        struct sbx_buf gone;
        CHECK(sbx_outdec_detach(&f.A.out, 0, &f.A.events, &gone) == 0, "detach");
        sbx_buf_free(&gone);
        CHECK(sbx_answer_body(&f.A, b.data + cut, b.len - cut) == 0, "%s rest after %zu", name, cut);
        CHECK(f.A.out.output[0].len == 7 - out0 &&
              memcmp(f.A.out.output[0].data, "abcdefg" + out0, 7 - out0) == 0,
              "%s cut %zu: the rest of stdout, once", name, cut);
        CHECK(f.A.offset == 9, "%s: offset at the end", name);
        fixture_free(&f);
    }
    sbx_buf_free(&b);
}

/* A frames stream cut by the transport in the middle of an output frame: the bytes that
 * came of it count, with the offset where they stop, as collected bytes and as a chunk;
 * the offset always equals the bytes collected, so a resume from it is exact. */
static void test_transport_cut_keeps_partial_frame(void)
{
    struct sbx_buf b = {0};
    output(&b, 0, 3, "abc", 3);
    output(&b, 1, 5, "EE", 2);
    output(&b, 0, 9, "defg", 4);
    for (size_t cut = 0; cut < b.len; cut++) {
        struct fixture f;
        fixture_init(&f, 1, 1);
        sbx_answer_head(&f.A, 200, "application/vnd.sbx.frames");
        CHECK(sbx_answer_body(&f.A, b.data, cut) == 0, "cut %zu", cut);
        sbx_answer_error(&f.A, "cut", 18, 0);
        int64_t off = f.A.offset;
        size_t out0 = sbx_outdec_complete(&f.A.out, 0), out1 = sbx_outdec_complete(&f.A.out, 1);
        CHECK((off < 0 && out0 + out1 == 0) || (int64_t)(out0 + out1) == off,
              "cut %zu: offset %lld, %zu + %zu bytes", cut, (long long)off, out0, out1);
        CHECK(memcmp(f.A.out.output[0].data ? f.A.out.output[0].data : "", "abcdefg", out0) == 0,
              "cut %zu: stdout", cut);
        /* every byte collected was handed over as a chunk too, the error last */
        char *got = drain(&f);
        size_t len = strlen(got);
        CHECK(len >= 6 && strcmp(got + len - 6, "other;") == 0, "cut %zu: the error event last: %s", cut, got);
        free(got);
        fixture_free(&f);
    }
    /* the last frame's head and two of its four bytes: offset 7, "abcde" + "EE" */
    struct fixture f;
    fixture_init(&f, 1, 0);
    sbx_answer_head(&f.A, 200, "application/vnd.sbx.frames");
    CHECK(sbx_answer_body(&f.A, b.data, b.len - 2) == 0, "all but two bytes");
    sbx_answer_error(&f.A, "cut", 18, 0);
    CHECK(f.A.offset == 7, "offset %lld where the bytes stop", (long long)f.A.offset);
    CHECK(sbx_outdec_complete(&f.A.out, 0) == 5, "stdout abcde");
    fixture_free(&f);
    sbx_buf_free(&b);
}

/* Chunks switched on mid-stream: the events from then on are queued, with references
 * into the collected output; switched off, none are. */
static void test_chunks_toggle(void)
{
    struct sbx_buf b = {0};
    output(&b, 0, 1, "a", 1);
    size_t first = b.len;
    output(&b, 0, 2, "b", 1);
    size_t second = b.len;
    output(&b, 0, 3, "c", 1);
    struct fixture f;
    fixture_init(&f, 1, 0);
    sbx_answer_head(&f.A, 200, "application/vnd.sbx.frames");
    sbx_answer_body(&f.A, b.data, first);
    free(drain(&f));
    sbx_answer_chunks(&f.A, 1);
    sbx_answer_body(&f.A, b.data + first, second - first);
    sbx_answer_chunks(&f.A, 0);
    sbx_answer_body(&f.A, b.data + second, b.len - second);
    check_events("toggled", drain(&f), "stdout|2|b;", 11);
    CHECK(f.A.out.output[0].len == 3 && memcmp(f.A.out.output[0].data, "abc", 3) == 0, "all collected");
    fixture_free(&f);
    sbx_buf_free(&b);
}

int main(void)
{
    test_splits();
    test_limits();
    test_receiver_stops();
    test_answer_picks_the_decoder();
    test_answer_malformed();
    test_cut_mid_event(1);
    test_cut_mid_event(0);
    test_chunks_toggle();
    test_transport_cut_keeps_partial_frame();
    return check_report();
}
