/* The decoder of output events (stdout, stderr): an SSE event's data is base64, decoded as
 * it arrives (the SSE parser's sink), so that Lua gets raw bytes and the parser holds no
 * copy of the text; a frame's bytes are raw and taken as they are. When collecting, the
 * bytes go straight to the channel's buffer, so that the whole output is one buffer at
 * the end, grown as it arrived rather than built in one go; an event refers to its bytes
 * there (sbx_outdec_detach copies them out should the buffer go first). The bytes of an
 * event not complete yet (or never: the stream was cut in it) are at the buffer's end,
 * past sbx_outdec_complete: they are no one's until the event ends. */
#ifndef SBX_OUTDEC_H
#define SBX_OUTDEC_H
#include <stddef.h>
#include "buf.h"
#include "evqueue.h"

struct sbx_outdec {
    struct sbx_buf output[2]; /* collected stdout, stderr */
    int collect;              /* keep the bytes in output[] */
    int chunks;               /* each event is wanted with its bytes (sbx_outdec_take) */
    int decoding;             /* an output event's data is being decoded */
    struct sbx_buf *into;     /* where: the channel's collected output, or `own` */
    size_t at;                /* where the event's bytes begin there */
    struct sbx_buf own;       /* the event's bytes when not collecting */
    char carry[4];            /* base64 characters of a group not complete yet */
    size_t ncarry;
    int ended;                /* a padded group came: the event's base64 is complete */
    const char *error;        /* why the last call failed */
};

/* 0 for stdout, 1 for stderr, -1 for any other event type. */
int sbx_outdec_channel(const char *type);

void sbx_outdec_init(struct sbx_outdec *D, int collect, int chunks);
/* Where the collected output's memory comes from once large (buf.h: the client's). */
void sbx_outdec_source(struct sbx_outdec *D, struct sbx_bufsource *source);
void sbx_outdec_free(struct sbx_outdec *D);
/* An event of `type` begins its data: 1 when it is an output event, whose data then goes
 * to sbx_outdec_data, else 0. */
int sbx_outdec_begin(struct sbx_outdec *D, const char *type);
/* An output event of a channel (0: stdout, 1: stderr) begins. */
void sbx_outdec_begin_channel(struct sbx_outdec *D, int channel);
/* A piece of the event's base64, split anywhere. 0, or -1 with D->error set. */
int sbx_outdec_data(struct sbx_outdec *D, const char *s, size_t n);
/* A piece of the event's bytes, raw (a frame's). 0, or -1 with D->error set. */
int sbx_outdec_raw(struct sbx_outdec *D, const char *s, size_t n);
/* The event's data is complete. 0, or -1 with D->error set (a group was left unfinished). */
int sbx_outdec_end(struct sbx_outdec *D);
/* Gives the event that ended its decoded bytes (when chunks are wanted): a reference into
 * the collected output, or a copy of its own. 0, or -1 when out of memory (D->error set). */
int sbx_outdec_take(struct sbx_outdec *D, struct sbx_event *ev);
/* The event that ended is not wanted (no chunks): its own bytes go. */
void sbx_outdec_drop(struct sbx_outdec *D);
/* How many of the channel's collected bytes belong to complete events: all of them but
 * those of an event under way. */
size_t sbx_outdec_complete(const struct sbx_outdec *D, int channel);
/* Hands the channel's collected bytes over: the events of q that refer to them get
 * copies of their own, and the buffer moves to *gone (which the caller frees), holding
 * the complete events' bytes only (sbx_outdec_complete); the channel's buffer starts
 * again with the bytes of an event under way, if any. 0, or -1 when out of memory
 * (nothing moved then: the bytes stay where they were). */
int sbx_outdec_detach(struct sbx_outdec *D, int channel, struct sbx_evqueue *q,
                      struct sbx_buf *gone);

#endif
