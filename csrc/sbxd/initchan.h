/* sbxd's end of one sandbox's init channel (initproto.h) on the loop: commands and
 * signals out, the init's messages in, each checked (initmsg.h) before it is handed on.
 * Knows nothing of processes: the owner's callback gives the messages their meaning. */
#ifndef SBXD_INITCHAN_H
#define SBXD_INITCHAN_H
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include "initproto.h"

struct sbxd_initchan;

/* A valid message from the init, with its descriptor (a pty master; -1 when none), which
 * the callback owns. `m` NULL: the channel is over (closed, failed, or the init sent
 * something invalid, which leaves it untrusted); no call follows. The callback may close
 * the channel. */
typedef void (*sbxd_initchan_cb)(void *ctx, const struct sbx_init_reply *m, int fd);

/* Takes `fd` (the channel, READY already read). NULL when out of memory (fd closed). */
struct sbxd_initchan *sbxd_initchan_open(uv_loop_t *loop, int fd, sbxd_initchan_cb cb, void *ctx);
/* Stops reading and closes the descriptor; the struct is freed by the loop. */
void sbxd_initchan_close(struct sbxd_initchan *ch);

/* Who runs a command and on what: its uid and gid in the sandbox, SBX_START_ flags, and
 * with SBX_START_PTY the terminal's size. */
struct sbxd_initchan_who {
    unsigned uid, gid, flags;
    uint16_t rows, cols;
};

/* Sends a command: `fds` are stdin (with SBX_START_STDIN), stdout and stderr, the child's
 * ends, which the caller still closes (none with SBX_START_PTY). *seq is the number the
 * answer will carry. -1 with errno set when it could not be sent (the channel is full or
 * gone, no memory, ...). */
int sbxd_initchan_start(struct sbxd_initchan *ch, const char *cwd, char *const argv[], char *const envp[],
                        const struct sbxd_initchan_who *who, const int *fds, size_t nfds, uint32_t *seq);
/* A signal to the process group of the command `pid` (in the sandbox). */
int sbxd_initchan_signal(struct sbxd_initchan *ch, pid_t pid, int sig);
/* Every process but the init stopped or continued (SBX_INIT_STOP_ALL, CONT_ALL). */
int sbxd_initchan_stop_all(struct sbxd_initchan *ch, int stop);

#endif
