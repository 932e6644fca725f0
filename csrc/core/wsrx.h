/* The incoming side of an interactive session (sbx.v1, wschan.h): lws hands a message
 * over in fragments (as much as its receive buffer holds at a time); this reads them.
 *
 * A message's first byte is its channel. Output (stdout, stderr) is handed on fragment
 * by fragment, without gathering the message: the bytes go to Lua as they came. A status
 * message (JSON) is gathered whole and handed on at its last fragment. Anything else the
 * protocol forbids the client to receive (a text message, an empty one, an unknown
 * channel, one over SBX_WS_MSG_MAX) fails the session, with the close code and reason
 * wschan.c gives it. Pure: no lws, no loop, so that it is unit-tested and fuzzed. */
#ifndef SBX_WSRX_H
#define SBX_WSRX_H
#include <stddef.h>
#include "buf.h"
#include "wschan.h"

struct sbx_wsrx {
    int channel;             /* the message under way's; -1 until its first byte came */
    int in_message;          /* a message has begun and its last fragment not come */
    int failed;              /* a message broke the protocol: nothing more is read */
    size_t len;              /* bytes of the message so far, its channel byte included */
    struct sbx_buf status;   /* a status message's payload, gathered */
};

enum sbx_wsrx_kind {
    SBX_WSRX_NONE,           /* nothing to hand on yet (a status message under way) */
    SBX_WSRX_OUTPUT,         /* item.channel's bytes: data, len (may be 0) */
    SBX_WSRX_STATUS,         /* a whole status message's payload: data, len */
    SBX_WSRX_FAIL,           /* the protocol was broken: close with item.why */
};

struct sbx_wsrx_item {
    int channel;
    const char *data;        /* inside the fragment, or the gathered status: valid until
                              * the next call */
    size_t len;
    struct sbx_ws_msg why;   /* FAIL: close_code and reason */
};

void sbx_wsrx_init(struct sbx_wsrx *rx);
void sbx_wsrx_free(struct sbx_wsrx *rx);
/* A new connection: a message cut off by the old one is forgotten. */
void sbx_wsrx_reset(struct sbx_wsrx *rx);

/* Reads one fragment (`first`, `final`: its place in its message; `is_text`: the
 * message's opcode). What it yields goes into *item. Once FAIL was returned, every later
 * call returns FAIL again. */
enum sbx_wsrx_kind sbx_wsrx_feed(struct sbx_wsrx *rx, const void *data, size_t len, int first,
                                 int final, int is_text, struct sbx_wsrx_item *item);

#endif
