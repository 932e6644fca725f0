/* The one step that puts a command into a sandbox: today a private directory and an
 * environment; bubblewrap isolation replaces this step without touching its callers. */
#ifndef SBXD_LAUNCH_H
#define SBXD_LAUNCH_H
#include <sys/resource.h>
#include "request.h"
#include "sbxd.h"

struct sbxd_spawned {
    pid_t pid;            /* also its process group and session */
    int in, out, err;     /* our ends of its stdio pipes (close-on-exec); in is -1 when
                             the command had no stdin bytes (it reads /dev/null) */
};

/* Once, after sbxd has set up its own signal handling: what each command must undo.
 * `nofile` is the descriptor limit sbxd was started with, which commands get back. */
void sbxd_launch_init(const struct rlimit *nofile);

int sbxd_spawn(struct sbxd_sandbox *box, const struct sbxd_start_req *req,
               struct sbxd_spawned *out, struct sbxd_err *err);

#endif
