/* The one step that puts a command into a sandbox: its user, environment, cwd and
 * pipes, then either the sandbox's init (an isolated sandbox: the start is answered
 * later, on the init's channel) or a process of sbxd's own (isolation none). */
#ifndef SBXD_LAUNCH_H
#define SBXD_LAUNCH_H
#include <stdint.h>
#include <sys/resource.h>
#include "request.h"
#include "sbxd.h"

struct sbxd_spawned {
    pid_t pid;            /* also its process group and session; 0 while the init has not
                             answered (then seq is the start's number) */
    uint32_t seq;
    int in, out, err;     /* our ends of its stdio pipes (close-on-exec); in is -1 when
                             a foreground command had no stdin bytes (it reads /dev/null).
                             With a pty: on the host in and out are the master (two
                             descriptors) and err is -1; in a sandbox all three are -1,
                             the master comes with the init's answer */
};

/* Once, after sbxd has set up its own signal handling: what each command must undo.
 * `nofile` is the descriptor limit sbxd was started with, which commands get back. */
void sbxd_launch_init(const struct rlimit *nofile);

/* The error for a command that did not start at `step` (an sbx_start_step) with errno
 * `e`; `cwd` as the request named it. Returns -1. */
int sbxd_start_failure(int step, int e, const char *cwd, struct sbxd_err *err);
/* In a forked child that will exec something of sbxd's (bwrap): signals, mask, CPU policy
 * and descriptor limit back to what sbxd was started with. */
void sbxd_launch_child_reset(void);

int sbxd_spawn(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
               struct sbxd_spawned *out, struct sbxd_err *err);

#endif
