#ifndef SBX_INIT_SPAWN_H
#define SBX_INIT_SPAWN_H
#include <sys/types.h>
#include "payload.h"

/* What a command starts with. */
struct spawn_req {
    const struct payload *pl;
    int in, out, err;       /* become 0, 1, 2; none of them is 0, 1 or 2 itself */
    int ctty;               /* with a pty: the slave, made the controlling terminal; else -1 */
    uid_t uid;
    gid_t gid;
};

/* Why a command did not start: an sbx_start_step and an errno. */
struct spawn_failure {
    int step, err;
};

/* The command's pid once it has exec'd, or -1 with *f set. A child that failed before
 * its exec is left to reap_children (it is no command). */
pid_t spawn_command(const struct spawn_req *r, struct spawn_failure *f);

#endif
