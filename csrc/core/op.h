/* An HTTP operation: one request on the client's curl multi, its easy handle configured
 * from a sbx_request, its curl callbacks feeding the answer (answer.h), its place in the
 * step's scheduler. It is owned by the client, which destroys it at its end if nobody
 * did before. */
#ifndef SBX_OP_H
#define SBX_OP_H
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "answer.h"
#include "client.h"
#include "headers.h"

struct sbx_request {
    const char *method, *url, *unix_socket;   /* unix_socket may be NULL */
    const char *const *headers;
    size_t nheaders;
    const char *body;        /* may be NULL; not copied: it must outlive the operation */
    size_t body_len;
    int raw_body;            /* the body is bytes (application/octet-stream), not JSON */
    int sse;                 /* parse an event-stream response */
    int collect;             /* keep stdout/stderr bytes (sbx_op_output) */
    int chunks;              /* queue stdout/stderr events (when collecting) */
    int bulk;                /* a stream that gets a bulk receive buffer whatever the
                              * client's count (one that outgrew the smallest, attaching
                              * again: sbx_op_outgrown) */
    struct sbx_op *output_from; /* an op whose collected output (its complete events'
                                 * bytes) this one takes over as it starts, and collects
                                 * onto; NULL: none */
    long timeout_ms;         /* the whole transfer's bound; 0: none */
    int fresh;               /* on a connection of its own, never one reused: curl sends a
                              * request again by itself when a reused connection dies before
                              * the answer, which a create must not be (it may have reached a
                              * proxy that passed it on) */
};

/* Why a request could not start. */
struct sbx_start_error {
    int invalid;             /* the request itself is bad: curl refused one of its values */
    char message[256];
};

struct sbx_reqcopy;

struct sbx_op {
    struct sbx_client *client;
    struct sbx_resource resource;   /* in the client's list */
    struct sbx_transfer transfer;   /* the easy handle, NULL once released */
    struct sbx_sched_node node;
    struct sbx_answer answer;
    struct sbx_headers *headers;    /* shared with the client's other requests */
    int added;                      /* the transfer is in curl's multi */
    int done;                       /* no more events will be queued */
    uint64_t last_rx;               /* uv_hrtime() of the last bytes received (or of the start) */
    char errbuf[CURL_ERROR_SIZE];
    void **owner;                   /* the binding's pointer to this op, cleared on destroy */
    struct sbx_reqcopy *kill;       /* a reference to the template of the request started
                                     * detached when the op is closed (NULL: none) */
    int64_t kill_pid;               /* the pid that goes into its url */
    struct sbx_reqcopy *own;        /* a detached op's request, which it sends from here */
    unsigned detached : 1;          /* nobody waits for it: it destroys itself at its end */
    unsigned bulk : 1;              /* its transfer holds one of the client's bulk buffers */
    unsigned small_buffer : 1;      /* a stream reading through curl's smallest buffer */
    size_t received;                /* stream bytes its transfer took */
};

/* How long a detached request may take before the client gives up on it. */
#define SBX_DETACHED_TIMEOUT_MS 30000L

/* Starts a request: it is handed to curl now, or at a later step when this one has
 * started its share. NULL when it cannot start, with the reason in err. */
struct sbx_op *sbx_op_start(struct sbx_client *C, const struct sbx_request *req,
                            struct sbx_start_error *err);
/* Starts a request nobody waits for (it takes over rc): its answer is discarded, and it
 * frees itself when its transfer ends, after SBX_DETACHED_TIMEOUT_MS at most, or at the
 * client's end. -1 when it cannot start (rc is freed then too). */
int sbx_op_start_detached(struct sbx_client *C, struct sbx_reqcopy *rc);
/* The request started detached when the op is closed (sbx_op_close): template kill's
 * (sbx_reqcopy_for) with pid in its url; the op holds a reference of its own. NULL for
 * none. The one set before is let go. */
void sbx_op_kill_on_close(struct sbx_op *op, struct sbx_reqcopy *kill, int64_t pid);
/* The owner lets the op go: its kill request, if it has one and the stream has not
 * reached its end event, starts detached; then the op is destroyed. */
void sbx_op_close(struct sbx_op *op);
/* Aborts the transfer; no more events after it. Idempotent. */
void sbx_op_cancel(struct sbx_op *op);
/* Cancels and frees the operation; clears *owner. */
void sbx_op_destroy(struct sbx_op *op);
/* The oldest event, left in the queue (NULL when none): its bytes from ev->taken on are
 * still to be handed over, in as many parts as the binding likes (sbx_op_take). */
struct sbx_event *sbx_op_peek(struct sbx_op *op);
/* n more of the oldest event's bytes were handed over: once all were, it leaves the queue
 * and the caller frees it (1), else 0. */
int sbx_op_take(struct sbx_op *op, struct sbx_event *ev, size_t n);
/* Events queued and not taken yet. */
size_t sbx_op_queued(const struct sbx_op *op);
/* Bytes the op holds for Lua: its queued events, and, once the transfer is over, the
 * collected output that becomes strings at the end. */
size_t sbx_op_backlog(const struct sbx_op *op);
/* Whether the op is a stream, not over, that reads through curl's smallest receive buffer
 * and has taken at least SBX_OUTGROWN_AFTER bytes: a stream with much output, which would
 * cost less attached again with a bulk buffer (sbx_request.bulk). */
int sbx_op_outgrown(const struct sbx_op *op);
/* Seconds since bytes last arrived (since the start when none did). */
double sbx_op_idle(const struct sbx_op *op);
/* The bytes collected on a channel (0: stdout, 1: stderr) so far; *complete says how
 * many of them belong to complete output events (those of an event still under way, or
 * cut off, come after). */
const struct sbx_buf *sbx_op_output(const struct sbx_op *op, int channel, size_t *complete);
/* The id of the last complete output event (the offset a resume starts from), or -1. */
int64_t sbx_op_offset(const struct sbx_op *op);
/* From now on output events are queued, or not (bytes collected already are not). */
void sbx_op_chunks(struct sbx_op *op, int chunks);
/* Lets the channel's complete collected bytes go (the caller has copied them): queued
 * events that refer to them get copies of their own first; the bytes of an event under
 * way stay. 0, or -1 when out of memory (then the bytes stay, and a later call hands them
 * over again). */
int sbx_op_release_output(struct sbx_op *op, int channel);
/* Hands the channel's complete collected bytes over in the block of the client's
 * allocator they were collected in (sbx_buf_release_block: *len bytes at its head, then
 * a NUL), as sbx_op_release_output lets them go; the caller owns the block. NULL when
 * they are not in a block (nothing done: *oom is 0), or out of memory (*oom set; the
 * bytes stay). */
char *sbx_op_take_output_block(struct sbx_op *op, int channel, size_t *len, int *oom);

#endif
