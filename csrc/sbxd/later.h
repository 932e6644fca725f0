/* A JSON answer given later: a request whose answer waits for the process layer (a write
 * into a process's stdin) holds a struct sbxd_later, the waiter that layer tells once.
 *
 * While it waits lws reads no more of the connection (a pipelined request waits for the
 * answer before it) and holds no header table for it; sbxd watches it (connwatch.h) for
 * a hang-up, which closes it. The later and the connection forget each other when either
 * goes first: the answer of a connection that closed goes nowhere. */
#ifndef SBXD_LATER_H
#define SBXD_LATER_H
#include "http.h"
#include "stdin.h"

struct sbxd_later {
    struct sbxd_waiter waiter;   /* what the process layer tells */
    struct lws *wsi;             /* NULL once the connection has closed */
};

/* A later for the request of wsi, not yet waiting; NULL when out of memory. */
struct sbxd_later *sbxd_later_new(struct lws *wsi);
/* Not handed to the process layer after all (it refused at once): freed. */
void sbxd_later_drop(struct sbxd_later *l);
/* The request's answer waits for l (handed to the process layer). Returns the value the
 * lws callback must return: -1 when the connection cannot be watched (it closes, and l
 * forgets it). */
int sbxd_later_wait(struct sbxd_later *l, struct sbxd_conn *c);
/* The connection closed while its answer waited. */
void sbxd_later_forget(struct sbxd_later *l);
/* An event of the watch on a waiting connection (a half-close: it may still read the
 * answer). Returns -1 when the connection must close. */
int sbxd_later_event(struct lws *wsi, struct sbxd_conn *c, unsigned events);

#endif
