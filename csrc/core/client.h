/* The client core of one Lua state, the layers put together: the uv loop at the bottom,
 * curl's multi handle and the lws context of interactive sessions on it, the step's
 * scheduler, pooled easy handles, buffers waiting to be freed, the header lists its
 * requests share, and the list of every live operation and session, closed with it. */
#ifndef SBX_CLIENT_H
#define SBX_CLIENT_H
#include "easypool.h"
#include "graveyard.h"
#include "headers.h"
#include "list.h"
#include "loop.h"
#include "multi.h"
#include "scheduler.h"
#include "wsctx.h"

/* What the client closes at its end: every live operation links one, with the function
 * that destroys it. */
struct sbx_resource {
    struct sbx_list link;
    void (*destroy)(struct sbx_resource *r);
};

struct sbx_client {
    struct sbx_loop loop;
    struct sbx_multi multi;
    struct sbx_wsctx ws, wss;       /* sessions' lws contexts: plain, and TLS (made apart:
                                       only a wss session pays for TLS set-up) */
    struct sbx_sched sched;
    struct sbx_easypool pool;
    struct sbx_graveyard graveyard;
    struct sbx_header_lists headers;
    struct sbx_list resources;
    int bulk_streams;               /* streams in flight with a bulk receive buffer */
    int lingering;                  /* requests and sessions let go that still have
                                       something to send: kills, started detached */
    /* Where collected output's memory comes from: the allocator whose blocks are handed
     * over whole (the binding's: the Lua state's, so that a block becomes a string), set
     * by the binding, else mappings, the graveyard's spare first. */
    struct sbx_bufsource output_source;
};

/* Streams in flight that get a bulk receive buffer at once, at most (op.c). */
#define SBX_BULK_STREAMS 2

/* 0, or -1 when libuv or curl could not be set up (nothing to destroy then). */
int sbx_client_init(struct sbx_client *C);
/* Destroys every live operation and session, the lws context, closes every handle,
 * closes the uv loop. */
void sbx_client_destroy(struct sbx_client *C);
/* One step: frees a deferred buffer, starts waiting requests and resumes paused streams,
 * then runs the loop once. timeout 0: never blocks; < 0: blocks until something happens;
 * > 0: blocks at most that long. A step with work already waiting does not block. A step
 * that blocks until something happens takes more stream bytes (scheduler.h): its caller
 * has nothing else to do (a call in the main chunk, sbx.loop()); one with a timeout may
 * be a host's frame, and keeps the frame's budget, unless `bulk` says that no frame
 * waits on it: its caller blocks (a call in the main chunk waiting up to its deadline, or
 * sbx.loop() with tasks ready to run, which must not sleep). */
void sbx_client_step(struct sbx_client *C, double timeout, int bulk);
/* Steps the loop until nothing let go lingers (C->lingering), at most `ms`: at the
 * client's end, the kills of commands and sessions whose owners went with the Lua state
 * go out then, rather than never (sbxd would end those commands only after its resume
 * grace). */
void sbx_client_finish_lingering(struct sbx_client *C, int ms);
/* Milliseconds until a step has work for sure (0 when the next one has some already), or
 * -1 when only new work can wake the client. */
int sbx_client_timeout_ms(const struct sbx_client *C);
/* The descriptor that becomes readable when a step has I/O to do. */
int sbx_client_fd(const struct sbx_client *C);
/* Operations with events Lua has not been told of. */
size_t sbx_client_ready_count(const struct sbx_client *C);
/* The next such operation's node, taken off the ready list; NULL when none. */
struct sbx_sched_node *sbx_client_pop_ready(struct sbx_client *C);

#endif
