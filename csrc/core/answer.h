/* What a request brings back, as events for Lua: the final response's head, then the
 * events of a process stream (output as raw bytes) or the plain body, then done or error.
 * A stream is SSE (text/event-stream) or frames (application/vnd.sbx.frames), told by the
 * response's Content-Type; its events reach Lua alike. The transfer's callbacks feed it;
 * each event it queues marks its operation ready and counts in the operation's backlog
 * (an answer that discards its events queues none). */
#ifndef SBX_ANSWER_H
#define SBX_ANSWER_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "evqueue.h"
#include "frames.h"
#include "outdec.h"
#include "scheduler.h"
#include "sse.h"

#define SBX_MAX_BODY   (64u * 1024u * 1024u)  /* a plain response body */
#define SBX_MAX_EVENT  (64u * 1024u * 1024u)  /* one SSE line or event */

struct sbx_answer {
    struct sbx_evqueue events;
    struct sbx_sched *sched;
    struct sbx_sched_node *node;  /* the operation's: its readiness and backlog */
    union {                       /* the decoder of `streaming`'s kind, made at the head: */
        struct sbx_sse *sse;      /* allocated, and of that kind's size, since a command */
        struct sbx_frames *frames; /* in flight keeps it all along */
    } decoder;
    struct sbx_outdec out;
    struct sbx_buf body;
    int sse;                      /* a process stream is wanted */
    int streaming;                /* the response is one (2xx): SBX_STREAM_SSE or _FRAMES */
    int discard;                  /* no event is wanted: none is queued */
    int ended;                    /* the stream's end event came */
    int64_t offset;               /* the id of the last complete output event; -1: none */
    char *failure;                /* why the transfer was stopped from a callback */
};

enum { SBX_STREAM_NONE, SBX_STREAM_SSE, SBX_STREAM_FRAMES };

/* sse: parse a process stream (SSE or frames); collect: keep the output bytes
 * (out.output[]); chunks: queue output events (always, when not collecting). */
void sbx_answer_init(struct sbx_answer *A, struct sbx_sched *S, struct sbx_sched_node *node,
                     int sse, int collect, int chunks);
void sbx_answer_free(struct sbx_answer *A);
/* The final (non-1xx) response's head: its status and content type (NULL when none). */
void sbx_answer_head(struct sbx_answer *A, long status, const char *content_type);
/* Bytes of the response body. 0, or -1 when the transfer must stop (the failure says why). */
int sbx_answer_body(struct sbx_answer *A, const char *bytes, size_t n);
/* The transfer completed with `status`: the done event, with the body ("" for a stream). */
void sbx_answer_done(struct sbx_answer *A, long status);
/* The transfer failed: the error event, with curl's code. It says the answer's own failure
 * when there was one, else `why`. */
void sbx_answer_error(struct sbx_answer *A, const char *why, int code, int busy);
/* Stops the transfer at its next callback, for this reason (the first one given stays). */
void sbx_answer_fail(struct sbx_answer *A, const char *why);
/* From now on output events are queued (chunks) or not; the bytes collected so far are
 * not queued again. */
void sbx_answer_chunks(struct sbx_answer *A, int chunks);
/* The oldest queued event, left in the queue; NULL when none. */
struct sbx_event *sbx_answer_peek(struct sbx_answer *A);
/* n more of ev's bytes (ev: the oldest) were handed over, and leave the backlog; once all
 * of them were, ev leaves the queue too and the caller frees it: 1, else 0. */
int sbx_answer_take(struct sbx_answer *A, struct sbx_event *ev, size_t n);

#endif
