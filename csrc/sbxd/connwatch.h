/* sbxd's own watch on connections that lws leaves alone: those that stream a command,
 * and those refused on their headers while their body comes.
 *
 * lws reads nothing of such a connection (rx flow control: a pipelined request waits
 * for the response before it, and a refused body is left unread), and lws 4.1 then
 * serves no POLLOUT on it either, so sbxd writes a stream itself. The connections are
 * kept in one epoll set of sbxd's own, polled by the loop as one descriptor, watched for
 * writability when sbxd has something to send, for the client's half-close
 * (EPOLLRDHUP) and for its hang-up or an error (EPOLLHUP, EPOLLERR): a connection
 * costs an epoll_ctl to join and one to leave, and one to start and one to stop each
 * wait for writability. Events go to the function given to sbxd_connwatch_open. */
#ifndef SBXD_CONNWATCH_H
#define SBXD_CONNWATCH_H
#include "sbxd.h"

enum { SBXD_WATCH_OUT = 1, SBXD_WATCH_HALF_CLOSE = 2, SBXD_WATCH_GONE = 4 };

/* An event (SBXD_WATCH_ bits) on a watched connection. */
typedef void (*sbxd_conn_event_fn)(struct lws *wsi, unsigned events);

/* Creates the set and its watcher on the server's loop; events go to on_event. */
int sbxd_connwatch_open(struct sbxd_server *srv, sbxd_conn_event_fn on_event);
/* After lws is gone (no connection is watched any more): closes the set. */
void sbxd_connwatch_close(struct sbxd_server *srv);
/* Watches the connection for SBXD_WATCH_OUT and/or SBXD_WATCH_HALF_CLOSE (hang-ups
 * always) until sbxd_connwatch_remove, which must come before its descriptor closes:
 * lws tells of the close (DROP_PROTOCOL) while the descriptor is open. */
int sbxd_connwatch_add(struct sbxd_server *srv, struct lws *wsi, unsigned events);
int sbxd_connwatch_modify(struct sbxd_server *srv, struct lws *wsi, unsigned events);
void sbxd_connwatch_remove(struct sbxd_server *srv, struct lws *wsi);

#endif
