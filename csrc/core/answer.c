#include "answer.h"
#include "protocol.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char NO_MEMORY[] = "out of memory";

static void push(struct sbx_answer *A, struct sbx_event *ev)
{
    if (A->discard) {
        sbx_event_free(ev);
        return;
    }
    A->node->backlog += ev->len;
    sbx_evqueue_push(&A->events, ev);
    sbx_sched_mark_ready(A->sched, A->node);
}

void sbx_answer_fail(struct sbx_answer *A, const char *why)
{
    if (!A->failure) A->failure = strdup(why);
}

static int fail(struct sbx_answer *A, const char *why)
{
    sbx_answer_fail(A, why);
    return -1;
}

/* An event of its own type, with its id ("" is none). */
static struct sbx_event *new_event(struct sbx_answer *A, const char *type, const char *id)
{
    struct sbx_event *ev = sbx_event_new(SBX_EV_EVENT, type, *id ? id : NULL);
    if (!ev) fail(A, NO_MEMORY);
    return ev;
}

/* An SSE event's id as an offset: a whole decimal number, else -1. */
static int64_t offset_of(const char *id)
{
    int64_t v = 0;
    if (!*id) return -1;
    for (; *id; id++) {
        if (*id < '0' || *id > '9' || v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*id - '0');
    }
    return v;
}

/* The end of an output event, whose data went through the decoder: it is complete, and
 * its id is where a resume would start. */
static int output_event(struct sbx_answer *A, const char *type, const char *id)
{
    struct sbx_outdec *D = &A->out;
    if (sbx_outdec_end(D) != 0) return fail(A, D->error);
    int64_t offset = offset_of(id);
    if (offset >= 0) A->offset = offset;
    if (!D->chunks) return sbx_outdec_drop(D), 0;
    struct sbx_event *ev = new_event(A, type, id);
    if (!ev) return -1;
    if (sbx_outdec_take(D, ev) != 0) return sbx_event_free(ev), fail(A, D->error);
    push(A, ev);
    return 0;
}

/* The parser asks whether an event's data goes to the decoder. */
static int wants_data(void *ud, const char *type)
{
    struct sbx_answer *A = ud;
    return sbx_outdec_begin(&A->out, type);
}

static int take_data(void *ud, const char *s, size_t n)
{
    struct sbx_answer *A = ud;
    return sbx_outdec_data(&A->out, s, n) ? fail(A, A->out.error) : 0;
}

static int on_sse_event(void *ud, const char *type, const char *data, size_t len, const char *id)
{
    struct sbx_answer *A = ud;
    if (!data) return output_event(A, type, id);
    if (sbx_outdec_begin(&A->out, type)) /* one whose type came after its data: decoded whole */
        return take_data(A, data, len) ? -1 : output_event(A, type, id);
    if (strcmp(type, SBX_EV_END) == 0) A->ended = 1;
    struct sbx_event *ev = new_event(A, type, id);
    if (!ev) return -1;
    if (!(ev->data = malloc(len + 1))) return sbx_event_free(ev), fail(A, NO_MEMORY);
    memcpy(ev->data, data, len);
    ev->data[len] = '\0';
    ev->len = len;
    push(A, ev);
    return 0;
}

/* --- frames --------------------------------------------------------------------------- */

static int frame_output_begin(void *ud, int channel, uint64_t offset)
{
    (void)offset;
    sbx_outdec_begin_channel(&((struct sbx_answer *)ud)->out, channel);
    return 0;
}

static int frame_output_data(void *ud, const char *bytes, size_t n)
{
    struct sbx_answer *A = ud;
    return sbx_outdec_raw(&A->out, bytes, n) ? fail(A, A->out.error) : 0;
}

static int frame_output_end(void *ud, int channel, uint64_t offset)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, offset);
    return output_event(ud, channel ? SBX_EV_STDERR : SBX_EV_STDOUT, id);
}

static int frame_event(void *ud, const char *type, const char *data, size_t len)
{
    return on_sse_event(ud, type, data, len, "");
}

static const struct sbx_frames_fns FRAME_FNS = {
    .output_begin = frame_output_begin, .output_data = frame_output_data,
    .output_end = frame_output_end, .event = frame_event};

void sbx_answer_init(struct sbx_answer *A, struct sbx_sched *S, struct sbx_sched_node *node,
                     int sse, int collect, int chunks)
{
    memset(A, 0, sizeof *A);
    sbx_evqueue_init(&A->events);
    A->sched = S;
    A->node = node;
    A->sse = sse;
    A->offset = -1;
    sbx_outdec_init(&A->out, collect, chunks || !collect);
}

/* The response's decoder: a command in flight keeps one, of its stream's kind. -1 when
 * out of memory (then the answer is a plain one). */
static int init_decoder(struct sbx_answer *A)
{
    if (A->streaming == SBX_STREAM_SSE) {
        if (!(A->decoder.sse = malloc(sizeof *A->decoder.sse))) goto oom;
        sbx_sse_init(A->decoder.sse, on_sse_event, A, SBX_MAX_EVENT);
        sbx_sse_set_sink(A->decoder.sse, wants_data, take_data);
    } else if (A->streaming == SBX_STREAM_FRAMES) {
        if (!(A->decoder.frames = malloc(sizeof *A->decoder.frames))) goto oom;
        sbx_frames_init(A->decoder.frames, &FRAME_FNS, A);
    }
    return 0;
oom:
    A->streaming = SBX_STREAM_NONE;
    return -1;
}

static void free_decoder(struct sbx_answer *A)
{
    if (A->streaming == SBX_STREAM_SSE) {
        sbx_sse_free(A->decoder.sse);
        free(A->decoder.sse);
    } else if (A->streaming == SBX_STREAM_FRAMES) {
        sbx_frames_free(A->decoder.frames);
        free(A->decoder.frames);
    }
    A->streaming = SBX_STREAM_NONE;
}

void sbx_answer_chunks(struct sbx_answer *A, int chunks)
{
    A->out.chunks = chunks;
}

void sbx_answer_free(struct sbx_answer *A)
{
    A->node->backlog = 0;
    sbx_evqueue_clear(&A->events);
    free_decoder(A);
    sbx_outdec_free(&A->out);
    sbx_buf_free(&A->body);
    free(A->failure);
    A->failure = NULL;
}

/* Whether a Content-Type is of this media type (parameters after it allowed). */
static int media_type_is(const char *content_type, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(content_type, type, n) != 0) return 0;
    char after = content_type[n];
    return after == '\0' || after == ';' || after == ' ' || after == '\t';
}

/* What kind of stream a response is: a process stream was asked for and it is 2xx. */
static int stream_kind(const struct sbx_answer *A, long status, const char *content_type)
{
    if (!A->sse || status < 200 || status > 299 || !content_type) return SBX_STREAM_NONE;
    if (media_type_is(content_type, "text/event-stream")) return SBX_STREAM_SSE;
    if (media_type_is(content_type, "application/vnd.sbx.frames")) return SBX_STREAM_FRAMES;
    return SBX_STREAM_NONE;
}

void sbx_answer_head(struct sbx_answer *A, long status, const char *content_type)
{
    free_decoder(A);
    A->streaming = stream_kind(A, status, content_type);
    if (init_decoder(A) != 0) return (void)fail(A, NO_MEMORY);
    struct sbx_event *ev = sbx_event_new(SBX_EV_HEAD, content_type ? content_type : "", NULL);
    if (!ev) return (void)fail(A, NO_MEMORY);
    ev->status = status;
    push(A, ev);
}

int sbx_answer_body(struct sbx_answer *A, const char *bytes, size_t n)
{
    if (A->streaming == SBX_STREAM_FRAMES) {
        if (sbx_frames_feed(A->decoder.frames, bytes, n) != 0 && !A->failure) {
            char why[128];
            snprintf(why, sizeof why, "the frames stream is malformed: %s", A->decoder.frames->error);
            fail(A, why);
        }
    } else if (A->streaming) {
        if (sbx_sse_feed(A->decoder.sse, bytes, n) != 0)
            fail(A, "the event stream is malformed or over its limits");
    } else if (A->body.len + n > SBX_MAX_BODY) {
        fail(A, "the response body is over the limit");
    } else if (sbx_buf_append(&A->body, bytes, n) != 0) {
        fail(A, NO_MEMORY);
    }
    return A->failure ? -1 : 0;
}

/* The terminal event: when even it cannot be made, a static one says why. */
static void push_last(struct sbx_answer *A, struct sbx_event *ev)
{
    if (!ev) ev = sbx_event_new(SBX_EV_ERROR, NO_MEMORY, NULL);
    if (ev) push(A, ev);
}

void sbx_answer_done(struct sbx_answer *A, long status)
{
    struct sbx_event *ev = sbx_event_new(SBX_EV_DONE, NULL, NULL);
    if (ev) {
        ev->status = status;
        ev->data = sbx_buf_take(&A->body, &ev->len);
        if (!ev->data) sbx_event_free(ev), ev = NULL;
    }
    push_last(A, ev);
}

void sbx_answer_error(struct sbx_answer *A, const char *why, int code, int busy)
{
    /* A cut frames stream keeps the bytes of the frame it was in: frames can be large, and
     * a connection that breaks before every one of them ends would never make progress. */
    if (A->streaming == SBX_STREAM_FRAMES && !A->failure) sbx_frames_cut(A->decoder.frames);
    struct sbx_event *ev = sbx_event_new(SBX_EV_ERROR, A->failure ? A->failure : why, NULL);
    if (ev) ev->code = code, ev->busy = busy && !A->failure;
    push_last(A, ev);
}

struct sbx_event *sbx_answer_peek(struct sbx_answer *A)
{
    return sbx_evqueue_peek(&A->events);
}

int sbx_answer_take(struct sbx_answer *A, struct sbx_event *ev, size_t n)
{
    ev->taken += n;
    A->node->backlog -= n;
    if (ev->taken < ev->len) return 0;
    sbx_evqueue_pop(&A->events);
    return 1;
}
