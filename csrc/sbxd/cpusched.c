/* While a command runs alone, sbxd runs as SCHED_BATCH: a woken batch task never
 * preempts the one running, so sbxd no longer takes the CPU from that command (or from
 * the client) each time one of the command's pipes, its SIGCHLD or the client's socket
 * wakes it. An exiting command then finishes its exit in one go, and sbxd handles both
 * pipes' ends and the exit status in one pass. With other commands running, sbxd relays
 * for many and runs as it was started: not preempting them would delay its answers by
 * their CPU time (bench/concurrency.lua measures both). Commands start with the policy
 * sbxd was started with, except a real-time one (SCHED_FIFO, SCHED_RR): theirs is then
 * SCHED_OTHER. A real-time command would take a CPU from everything else for as long as
 * it runs, and the kernel refuses to move a real-time process into a cgroup that limits
 * CPU, so no sandbox could start. Best effort: a policy sbxd cannot set it goes without. */
#include <sched.h>
#include "cpusched.h"
#include "rtpolicy.h"

static int started_policy = -1;   /* -1: unknown, leave the policy alone */
static struct sched_param started_param;
static int child_policy = -1;     /* a command's: started_policy, unless real-time */
static struct sched_param child_param;
static int batch;                 /* sbxd runs as SCHED_BATCH now */

void sbxd_sched_init(void)
{
    int policy = sched_getscheduler(0);
    if (policy < 0 || sched_getparam(0, &started_param) != 0) return;
    started_policy = sbx_policy_base(policy);
    int realtime = sbx_policy_is_realtime(policy);
    child_policy = realtime ? SCHED_OTHER : started_policy;
    child_param = started_param;
    if (realtime) child_param.sched_priority = 0;
}

static void set_batch(int on)
{
    if (on == batch || started_policy < 0 || started_policy == SCHED_BATCH) return;
    struct sched_param none = {0};
    int rc = on ? sched_setscheduler(0, SCHED_BATCH, &none)
                : sched_setscheduler(0, started_policy, &started_param);
    if (rc == 0) batch = on;
}

void sbxd_sched_before_start(int running)
{
    set_batch(running == 0);
}

void sbxd_sched_in_child(void)
{
    if (batch || child_policy != started_policy) sched_setscheduler(0, child_policy, &child_param);
}
