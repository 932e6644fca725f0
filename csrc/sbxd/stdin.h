/* A process's stdin. A foreground command's gets its bytes, then EOF, on its own (it owns
 * them and outlives the process if it must). A background command's stays open: writes
 * queue up in the order they came, each done once all its bytes are in the pipe, until a
 * close (which comes after the writes before it) or the process's exit. Who waits for a
 * write or a close is told once, through its waiter; this layer knows no HTTP. */
#ifndef SBXD_STDIN_H
#define SBXD_STDIN_H
#include "sbxd.h"

/* The most bytes of writes not yet done a process's stdin holds (429 beyond). */
#define SBXD_STDIN_MAX (16u * 1024u * 1024u)

/* Told once when its write or close is over: with the answer's document (stolen), or
 * with err, or with neither when nobody is to be answered (shutdown). */
struct sbxd_waiter {
    void (*done)(struct sbxd_waiter *w, json_t *doc, const struct sbxd_err *err);
};

struct sbxd_stdin {
    uv_pipe_t *pipe;            /* NULL: never opened (a foreground command) or closed */
    int opened;                 /* it was opened: a background command's */
    int closing;                /* a close was asked: no write is taken any more */
    int broken;                 /* the process closed it: a write failed (EPIPE) */
    size_t pending;             /* bytes of the writes not done yet */
    struct sbx_list queue;      /* writes and a close not done yet, in order */
};

/* A foreground command's stdin: `len` bytes into fd (-1: none, it reads /dev/null), then
 * EOF; an EPIPE is the command's business. */
void sbxd_stdin_feed(uv_loop_t *loop, int fd, const unsigned char *data, size_t len);
/* Before anything else: a stdin with no pipe. */
void sbxd_stdin_init(struct sbxd_stdin *in);
/* A background command's stdin on fd (closed on failure: the command reads EOF), its
 * first `len` bytes queued first. */
void sbxd_stdin_open(struct sbxd_stdin *in, uv_loop_t *loop, int fd, const unsigned char *data, size_t len);
/* Queues `len` bytes (data: malloc'd, taken unless refused; NULL when len is 0); `w` is
 * told {"written": len} once they are all in the pipe. -1 with err set when refused: the
 * stdin is not open (409) or holds too much already (429). */
int sbxd_stdin_write(struct sbxd_stdin *in, char *data, size_t len, struct sbxd_waiter *w,
                     struct sbxd_err *err);
/* What a write sent again found (its key was taken, docs/PROTOCOL.md "stdin"): `w` is told
 * {"written": len} once the writes queued before it are done, or nothing waits before it
 * and the answer is due now. */
enum sbxd_stdin_again { SBXD_STDIN_AGAIN_WAITS, SBXD_STDIN_AGAIN_DONE };
/* Queues no bytes: a write whose bytes were taken before (its first sending was cut
 * before its answer). -1 with err set (409) for a stdin that never was open, or that the
 * process closed (the first sending may have failed). */
int sbxd_stdin_write_again(struct sbxd_stdin *in, size_t len, struct sbxd_waiter *w, struct sbxd_err *err);
/* What a close found: the pipe closed now, the stdin closed already (or closing), or the
 * close waits for the writes before it (w is told {"closed": true} then). */
enum sbxd_stdin_close { SBXD_STDIN_CLOSED, SBXD_STDIN_WAS_CLOSED, SBXD_STDIN_CLOSE_WAITS };
/* -1 with err set (409) for a stdin that never was open. */
int sbxd_stdin_close(struct sbxd_stdin *in, struct sbxd_waiter *w, struct sbxd_err *err);
/* The process has exited (`exited`: its waiting writes and close are answered 409), or is
 * freed at shutdown (0: they are forgotten). The pipe closes. */
void sbxd_stdin_end(struct sbxd_stdin *in, int exited);

#endif
