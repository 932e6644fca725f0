/* The outgoing messages of one interactive session (sbx.v1, wschan.h), waiting for the
 * socket: each is one WebSocket message, made with LWS_PRE bytes of headroom before it,
 * since lws writes its frame header there and masks the payload in place.
 *
 * Two queues: control messages (the start, signals, resizes) go before stdin, so that a
 * signal reaches a process whose stdin is backed up; stdin bytes and their EOF keep their
 * order. The stdin queue is bounded (SBX_WSTX_STDIN_MAX): a writer whose bytes do not fit
 * waits until some are written, so a process that does not read costs the client no more
 * than that. */
#ifndef SBX_WSTX_H
#define SBX_WSTX_H
#include <stddef.h>
#include <stdint.h>
#include "list.h"

/* One stdin message carries at most this many payload bytes: a big write becomes several,
 * each one lws_write. */
#define SBX_WSTX_CHUNK (64u * 1024u)
/* Stdin payload bytes queued and not yet written, at most. */
#define SBX_WSTX_STDIN_MAX (256u * 1024u)
/* Control payload bytes queued, at most: a flood of signals waits too. */
#define SBX_WSTX_CONTROL_MAX (64u * 1024u)

struct sbx_wsmsg {
    struct sbx_list link;
    enum { SBX_WSMSG_STDIN, SBX_WSMSG_EOF, SBX_WSMSG_CONTROL } kind;
    size_t len;               /* the message: channel byte and payload */
    unsigned char *bytes;     /* = storage + headroom: the message, with room before it */
    unsigned char storage[];
};

/* Stdin kept until the server says it came (its `stdin` counts, docs/PROTOCOL.md): a
 * cut loses what was on its way, and the next connection sends it again from where the
 * server's count stands. Units: stdin payload bytes, then 1 for the EOF. */
struct sbx_wstx_kept {
    unsigned char *bytes;            /* the stdin from unit `from` on */
    size_t len, cap;
    uint64_t from;
};

struct sbx_wstx {
    struct sbx_list control, input;  /* oldest first */
    size_t control_queued;           /* control payload bytes in the queue */
    size_t stdin_queued;             /* stdin payload bytes in the queue */
    uint64_t stdin_accepted;         /* stdin payload bytes ever queued */
    uint64_t stdin_written;          /* of them, handed to the socket (on the last connection,
                                        from where the server's count stood) */
    int eof_queued;                  /* stdin's EOF is queued or written: no more stdin */
    int keep;                        /* stdin is kept until the server counts it (not
                                        once a server said no count) */
    int held;                        /* stdin waits: a new connection, whose server has not
                                        said where stdin stands yet */
    struct sbx_wstx_kept kept;
};

void sbx_wstx_init(struct sbx_wstx *tx);
/* Frees every message still queued. */
void sbx_wstx_clear(struct sbx_wstx *tx);
/* Drops the stdin messages not yet written (the session is ending: nobody will read
 * them); control messages stay. */
void sbx_wstx_drop_input(struct sbx_wstx *tx);

/* Queues as much of data[0..len) as the stdin bound lets in, as messages of at most
 * SBX_WSTX_CHUNK payload bytes. Returns the number of bytes taken (0 when the queue is
 * full), or -1 when out of memory before any was taken. */
long sbx_wstx_push_stdin(struct sbx_wstx *tx, const void *data, size_t len);
/* Queues stdin's EOF (a close-channel message for channel 0) after the stdin before it.
 * 0, or -1 when out of memory. */
int sbx_wstx_push_eof(struct sbx_wstx *tx);
/* Queues a control message (channel and payload) before any stdin not yet written.
 * 0; 1 when the control bound is reached (try again once some are written); -1 when
 * out of memory. `urgent` puts it first of all (the kill of a session that is closing),
 * and ignores the bound. */
int sbx_wstx_push_control(struct sbx_wstx *tx, int channel, const void *payload, size_t len,
                          int urgent);

/* The server says where this writer's stdin stands on a new connection: `known` 0 when
 * it keeps no count (then nothing is kept from now on), else `units` it has. What it
 * lacks of the stdin kept is queued again, ahead of the stdin not yet written, and stdin
 * goes out again. 0, or -1 when out of memory. */
int sbx_wstx_resume_stdin(struct sbx_wstx *tx, int known, uint64_t units);
/* The server counted `units` of stdin: what is kept of them goes. */
void sbx_wstx_stdin_counted(struct sbx_wstx *tx, uint64_t units);

/* The next message to write (control first; stdin only while not held), or NULL. */
struct sbx_wsmsg *sbx_wstx_next(const struct sbx_wstx *tx);
/* The message sbx_wstx_next returned was written: it leaves the queue and is freed. */
void sbx_wstx_written(struct sbx_wstx *tx, struct sbx_wsmsg *m);
/* Whether anything waits to be written (stdin that is held does not). */
int sbx_wstx_pending(const struct sbx_wstx *tx);

#endif
