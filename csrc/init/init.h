/* sbx-init: PID 1 of one sandbox. It forks the commands sbxd sends over its channel
 * (initproto.h), reports their pids and wait statuses, relays signals, and reaps orphans.
 * Single-threaded, libc only: it must start at once. */
#ifndef SBX_INIT_H
#define SBX_INIT_H
#include <stddef.h>
#include <sys/types.h>
#include "initproto.h"

/* Descriptors a start carries at most: the payload, stdin, stdout, stderr. */
#define INIT_START_MAX_FDS 4

/* chan.c: one message per packet on the SOCK_SEQPACKET channel. */
struct chan_msg {
    union {
        uint32_t type;
        struct sbx_init_start start;
        struct sbx_init_signal signal;
    } u;
    size_t len;             /* bytes of the packet, 0 when it was longer than u */
    int fds[INIT_START_MAX_FDS + 4];
    size_t nfds;
    int fds_lost;           /* more descriptors came than fit: all of them are closed */
};
ssize_t chan_recv(int chan, struct chan_msg *m);
int chan_send(int chan, const struct sbx_init_reply *r, int fd);
void close_fds(const int *fds, size_t n);

/* children.c: the pids of the commands started and not yet reported exited. */
int children_add(pid_t pid);
int children_has(pid_t pid);
int children_remove(pid_t pid);
void children_free(void);

/* reap.c: waits for every child that ended; reports the commands. -1: the channel broke. */
int reap_children(int chan);

/* serve.c: one message from sbxd; -1: the channel broke. */
int serve(int chan, struct chan_msg *m);

/* start.c: a SBX_INIT_START, answered with STARTED or FAILED; closes m's descriptors.
 * -1: the channel broke. */
int start_command(int chan, struct chan_msg *m);

#endif
