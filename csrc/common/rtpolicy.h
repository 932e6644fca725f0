/* Whether a scheduling policy (as sched_getscheduler returns it) is real-time: SCHED_FIFO
 * or SCHED_RR, whether or not SCHED_RESET_ON_FORK is set with it. The embedded launcher
 * and sbxd both hand their children SCHED_OTHER in place of one (a real-time process
 * takes a CPU from everything else, and the kernel refuses to move one into a cgroup
 * that limits CPU). */
#ifndef SBX_RTPOLICY_H
#define SBX_RTPOLICY_H
#include <sched.h>

static inline int sbx_policy_base(int policy)
{
    return policy & ~SCHED_RESET_ON_FORK;
}

static inline int sbx_policy_is_realtime(int policy)
{
    int base = sbx_policy_base(policy);
    return base == SCHED_FIFO || base == SCHED_RR;
}

#endif
