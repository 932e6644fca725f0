/* Interactive sessions over WebSocket, subprotocol "sbx.v1" (docs/PROTOCOL.md,
 * "Interactive sessions (WebSocket)"): what sbxd and the client agree on, and a pure
 * classifier of one received message that both sides use.
 *
 * Every message is binary: its first byte is a channel, the rest its payload. */
#ifndef SBX_WSCHAN_H
#define SBX_WSCHAN_H
#include <stddef.h>

#define SBX_WS_PROTOCOL "sbx.v1"

/* Channels. Client -> server: STDIN, STATUS (control JSON), RESIZE, CLOSE.
 * Server -> client: STDOUT, STDERR, STATUS (status JSON). */
#define SBX_WS_STDIN  0
#define SBX_WS_STDOUT 1
#define SBX_WS_STDERR 2
#define SBX_WS_STATUS 3
#define SBX_WS_RESIZE 4
#define SBX_WS_CLOSE  255

/* A whole message, its channel byte included, is at most this long; a longer one is
 * closed with SBX_WS_TOO_BIG. So a payload is at most SBX_WS_PAYLOAD_MAX bytes: a sender
 * splits stdin and output into messages of at most that many. */
#define SBX_WS_MSG_MAX     (1024u * 1024u)
#define SBX_WS_PAYLOAD_MAX (SBX_WS_MSG_MAX - 1u)

/* sbxd stops reading a connection while more than this much stdin is pending for its
 * process (written to nobody yet), and reads again once it has drained below. */
#define SBX_WS_STDIN_PENDING_MAX (1024u * 1024u)

/* Close codes (RFC 6455 7.4.1). */
#define SBX_WS_NORMAL       1000  /* after the end status; or the client closes on purpose */
#define SBX_WS_GOING_AWAY   1001  /* sbxd shuts down */
#define SBX_WS_UNSUPPORTED  1003  /* a text message */
#define SBX_WS_POLICY       1008  /* a malformed message, or an error status */
#define SBX_WS_TOO_BIG      1009  /* a message over SBX_WS_MSG_MAX */
#define SBX_WS_SERVER_ERROR 1011  /* a server-side failure */

/* A close frame's reason: RFC 6455 allows 123 bytes in a control frame after the code. */
#define SBX_WS_REASON_MAX 123

/* Which side received the message: each accepts only the channels its peer sends. */
enum sbx_ws_side { SBX_WS_AT_SERVER, SBX_WS_AT_CLIENT };

/* One received message, classified. */
struct sbx_ws_msg {
    int channel;            /* its channel byte; -1 for an empty message */
    const char *payload;    /* the bytes after the channel byte (inside the message) */
    size_t len;             /* their number */
    int close_code;         /* 0: the message is acceptable; else the code to close with */
    char reason[SBX_WS_REASON_MAX + 1]; /* why, NUL-terminated; "" when acceptable */
};

/* Classifies a whole message of `len` bytes as `side` received it (`is_text`: it came as
 * a text message). Acceptable: a binary message of 1..SBX_WS_MSG_MAX bytes on a channel
 * the side accepts; a CLOSE message's payload is exactly one byte. The JSON of STATUS and
 * RESIZE payloads is the caller's to parse. Returns m->close_code. */
int sbx_ws_classify(struct sbx_ws_msg *m, const void *data, size_t len, int is_text,
                    enum sbx_ws_side side);

/* Whether a message that has `len` bytes so far is already too big: a receiver that
 * collects fragments closes with SBX_WS_TOO_BIG as soon as this holds. */
int sbx_ws_too_big(size_t len);

/* Copies a close frame's reason into out: at most SBX_WS_REASON_MAX bytes, cut before a
 * UTF-8 character that would not fit whole (a close reason is UTF-8 text). */
void sbx_ws_set_reason(char out[SBX_WS_REASON_MAX + 1], const char *reason);

/* Writes the close code and reason of a failed classification into m (the reason as
 * sbx_ws_set_reason cuts it). Returns code. For callers that refuse a message whose
 * channel is acceptable but whose payload is not (bad JSON, an unknown control key). */
int sbx_ws_refuse(struct sbx_ws_msg *m, int code, const char *reason);

#endif
