/* Pause and resume: every process of a sandbox stopped, its lifetime and its commands'
 * timeouts held; and back. */
#include <errno.h>
#include <string.h>
#include "cgroup.h"
#include "initchan.h"
#include "proc.h"
#include "protocol.h"
#include "sbxd.h"

/* Seconds until a timer is due. */
static double timer_left(const uv_timer_t *t)
{
    return (double)uv_timer_get_due_in(t) / 1000.0;
}

/* Every process of the sandbox stopped (1) or let go (0): the freezer where the sandbox
 * has one, else the init stops and continues every process but itself; sbxd's own
 * processes (isolation none) are stopped by proc.c. */
static int freeze(struct sbxd_sandbox *box, int frozen)
{
    if (box->cg && sbxd_cgroup_can_freeze(box->cg))
        return frozen ? sbxd_cgroup_freeze(box->cg) : sbxd_cgroup_thaw(box->cg);
    if (box->chan) return sbxd_initchan_stop_all(box->chan, frozen);
    return 0;
}

int sbxd_sandbox_pause(struct sbxd_sandbox *box, struct sbxd_err *err)
{
    if (box->paused) return 0;
    if (freeze(box, 1) != 0)
        return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot pause the sandbox: %s", strerror(errno));
    box->lifetime_left = timer_left(box->lifetime);
    uv_timer_stop(box->lifetime);
    sbxd_proc_hold_sandbox(box, 1);
    box->paused = 1;
    box->paused_at = sbxd_now();
    return 0;
}

int sbxd_sandbox_resume(struct sbxd_sandbox *box, struct sbxd_err *err)
{
    if (!box->paused) return 0;
    if (freeze(box, 0) != 0)
        return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot resume the sandbox: %s", strerror(errno));
    box->paused = 0;
    box->paused_before += sbxd_now() - box->paused_at;
    sbxd_proc_hold_sandbox(box, 0);
    sbxd_sandbox_set_lifetime(box, box->lifetime_left);
    return 0;
}

