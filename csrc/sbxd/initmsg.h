/* sbxd's side of a sandbox init's channel (initproto.h), with nothing of sbxd's server in
 * it: reading and checking what an init says, and sending it commands and signals.
 *
 * An init is not trusted: a command running as the sandbox's root can take it over. So
 * every message read from it goes through sbxd_initmsg_decode before anything uses it,
 * and every descriptor that came with a refused message is closed by the caller. */
#ifndef SBXD_INITMSG_H
#define SBXD_INITMSG_H
#include <stddef.h>
#include <sys/types.h>
#include "initproto.h"

/* Descriptors a reply carries at most: STARTED's pty master. */
#define SBXD_INITMSG_MAX_FDS 1

/* Checks one message read from an init. Valid: exactly one struct sbx_init_reply of an
 * init->sbxd type, with
 * - READY: pid > 0, no descriptor (that it comes once, first, is the caller's to check);
 * - STARTED: pid > 0 and at most one descriptor (a pty master; whether the start asked
 *   for one is the caller's to check), returned in *fd_out;
 * - FAILED: a known step and 0 < err < 4096, no descriptor;
 * - EXITED: pid > 0 and a status of an ended process (WIFEXITED or WIFSIGNALED, no stray
 *   bits: never stopped or continued), no descriptor.
 * Returns 0 and fills *out (the fields the type has no use for are 0), or -1. *fd_out
 * is -1 unless 0 is returned with a descriptor. It never closes a descriptor: on -1 the
 * caller closes all of fds, on 0 all but *fd_out. A pure function of its arguments. */
int sbxd_initmsg_decode(const void *buf, size_t len, const int *fds, size_t nfds, struct sbx_init_reply *out,
                        int *fd_out);

/* Reads one message without blocking, its descriptors close-on-exec into fds. Returns
 * its length, 0 at EOF (an empty packet is taken as EOF too: an init has nothing to say
 * in one), or -1 with errno: EAGAIN when there is none, EBADMSG when the message was
 * longer than cap, or came with more than maxfds descriptors, or not all of them arrived;
 * else recvmsg's. Unless it returns a length, every descriptor that came is closed and
 * *nfds is 0. */
ssize_t sbxd_initmsg_recv(int fd, void *buf, size_t cap, int *fds, size_t maxfds, size_t *nfds);

/* A sealed memfd (close-on-exec) holding the cwd, argv and envp as a start's payload;
 * sets m->argc, m->envc and m->payload_len. -1 with errno (E2BIG: over 4 GiB). */
int sbxd_initmsg_payload(const char *cwd, char *const argv[], char *const envp[], struct sbx_init_start *m);

/* Sends a start with its descriptors (payload, [stdin,] stdout, stderr: initproto.h), or
 * a SIGNAL, STOP_ALL or CONT_ALL. Never blocks, never raises SIGPIPE: 0, or -1 with
 * errno (EAGAIN: the channel is full). The descriptors stay the caller's to close. */
int sbxd_initmsg_send_start(int chan, const struct sbx_init_start *m, const int *fds, size_t nfds);
int sbxd_initmsg_send_signal(int chan, const struct sbx_init_signal *m);

#endif
