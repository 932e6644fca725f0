/* HTTP operations on the loop's curl multi: one request, its response as queued events
 * (head, SSE events or the body, then done or error). */
#ifndef SBX_HTTP_H
#define SBX_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "evqueue.h"
#include "loop.h"
#include "sse.h"
#include "buf.h"

#define SBX_MAX_BODY   (64u * 1024u * 1024u)  /* a plain response body */
#define SBX_MAX_EVENT  (64u * 1024u * 1024u)  /* one SSE line or event */
/* The budget that keeps one step short under a flood of output: a stream pauses once
 * the step has taken this many bytes from all streams, or once its own undrained events
 * hold this many; paused streams resume at the start of a later step. */
#define SBX_STEP_BUDGET (32u * 1024u)
#define SBX_QUEUE_MAX   (256u * 1024u)
/* New requests one step sends at most: a burst of them waits its turn instead of
 * stalling a frame. Each costs a connection lookup or a connect, and the request's send:
 * 60-90 us on a 2-core VM, so 8 made a step of 0.5-0.7 ms, the slowest 1% of a 100-stream
 * flood. 4 halve that with no loss of throughput at 1000 runs in flight. */
#define SBX_STARTS_PER_STEP 4

struct sbx_request {
    const char *method, *url, *unix_socket;   /* unix_socket may be NULL */
    const char *const *headers;
    size_t nheaders;
    const char *body;                          /* may be NULL */
    size_t body_len;
    int sse;                                   /* parse an event-stream response */
    int collect;                               /* keep stdout/stderr bytes (sbx_op_output) */
    int chunks;                                /* queue stdout/stderr events (when collecting) */
    long connect_timeout_ms;                   /* 0: curl's default */
};

struct sbx_op {
    struct sbx_loop *loop;
    struct sbx_op *prev, *next;               /* loop->ops */
    struct sbx_op *ready_prev, *ready_next;   /* loop->ready */
    struct sbx_qnode paused;                  /* in loop->paused */
    struct sbx_qnode waiting;                 /* in loop->waiting: not yet in the multi */
    int in_ready, added;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    int sse, sse_active, headers_done, done, collect, chunks;
    size_t queued;            /* bytes of event data not yet drained by Lua */
    uint64_t last_rx;         /* uv_hrtime() of the last bytes received (or of the start) */
    struct sbx_sse parser;
    struct sbx_buf resp;
    struct sbx_buf output[2]; /* collected stdout, stderr */
    struct sbx_out_event {    /* the output event being decoded as its data arrives */
        struct sbx_buf *into; /* the channel's collected output, or `own` */
        size_t at;            /* where the event's bytes begin there */
        struct sbx_buf own;   /* its bytes when not collecting */
        struct sbx_buf head;  /* its first bytes, when op:output took them mid-event */
        char carry[4];        /* base64 characters of a group not complete yet */
        size_t ncarry;
        int ended;            /* a padded group came: the base64 is complete */
    } out;
    struct sbx_evqueue events;
    char *failure;            /* why the transfer was aborted from a callback */
    char errbuf[CURL_ERROR_SIZE];
    void **owner;             /* the binding's pointer to this op, cleared on destroy */
};

/* Starts a request (it runs on the next loop step). NULL with a message in err. */
struct sbx_op *sbx_op_start(struct sbx_loop *L, const struct sbx_request *req,
                            char *err, size_t errlen);
/* Aborts the transfer; no more events after it. Idempotent. */
void sbx_op_cancel(struct sbx_op *op);
/* Cancels, unlinks and frees the operation; clears *owner. */
void sbx_op_destroy(struct sbx_op *op);
/* Start of a step: hands waiting requests to curl, up to SBX_STARTS_PER_STEP. */
void sbx_start_waiting(struct sbx_loop *L);
/* Start of a step: resumes paused streams, oldest first, while the budget lasts. */
void sbx_resume_paused(struct sbx_loop *L);
/* Whether a paused stream would resume at the next step: then the loop has work that
 * no descriptor announces. */
int sbx_has_resumable(const struct sbx_loop *L);
/* Before a channel's collected bytes go (op:output): queued events that refer to them
 * get copies of their own. 0, or -1 when out of memory. */
int sbx_op_detach_output(struct sbx_op *op, int channel);
/* Pops the oldest event, keeping the queued-bytes count. */
struct sbx_event *sbx_op_pop(struct sbx_op *op);
/* Called by the loop when curl says the transfer ended with `result`. */
void sbx_op_finish(struct sbx_op *op, CURLcode result);

#endif
