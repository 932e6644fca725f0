#include "answer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char NO_MEMORY[] = "out of memory";

static void push(struct sbx_answer *A, struct sbx_event *ev)
{
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

/* The end of an output event, whose data went through the decoder. */
static int output_event(struct sbx_answer *A, const char *type, const char *id)
{
    struct sbx_outdec *D = &A->out;
    if (sbx_outdec_end(D) != 0) return fail(A, D->error);
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
    struct sbx_event *ev = new_event(A, type, id);
    if (!ev) return -1;
    if (!(ev->data = malloc(len + 1))) return sbx_event_free(ev), fail(A, NO_MEMORY);
    memcpy(ev->data, data, len);
    ev->data[len] = '\0';
    ev->len = len;
    push(A, ev);
    return 0;
}

void sbx_answer_init(struct sbx_answer *A, struct sbx_sched *S, struct sbx_sched_node *node,
                     int sse, int collect, int chunks)
{
    memset(A, 0, sizeof *A);
    sbx_evqueue_init(&A->events);
    A->sched = S;
    A->node = node;
    A->sse = sse;
    sbx_outdec_init(&A->out, collect, chunks || !collect);
    sbx_sse_init(&A->parser, on_sse_event, A, SBX_MAX_EVENT);
    sbx_sse_set_sink(&A->parser, wants_data, take_data);
}

void sbx_answer_free(struct sbx_answer *A)
{
    A->node->backlog = 0;
    sbx_evqueue_clear(&A->events);
    sbx_sse_free(&A->parser);
    sbx_outdec_free(&A->out);
    sbx_buf_free(&A->body);
    free(A->failure);
    A->failure = NULL;
}

void sbx_answer_head(struct sbx_answer *A, long status, const char *content_type)
{
    A->streaming = A->sse && status >= 200 && status <= 299 && content_type &&
                   strncasecmp(content_type, "text/event-stream", 17) == 0;
    struct sbx_event *ev = sbx_event_new(SBX_EV_HEAD, content_type ? content_type : "", NULL);
    if (!ev) return (void)fail(A, NO_MEMORY);
    ev->status = status;
    push(A, ev);
}

int sbx_answer_body(struct sbx_answer *A, const char *bytes, size_t n)
{
    if (A->streaming) {
        if (sbx_sse_feed(&A->parser, bytes, n) != 0)
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
    struct sbx_event *ev = sbx_event_new(SBX_EV_ERROR, A->failure ? A->failure : why, NULL);
    if (ev) ev->code = code, ev->busy = busy && !A->failure;
    push_last(A, ev);
}

struct sbx_event *sbx_answer_pop(struct sbx_answer *A)
{
    struct sbx_event *ev = sbx_evqueue_pop(&A->events);
    if (ev) A->node->backlog -= ev->len;
    return ev;
}
