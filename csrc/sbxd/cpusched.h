/* sbxd's own CPU scheduling policy, adapted to how many commands run. */
#ifndef SBXD_CPUSCHED_H
#define SBXD_CPUSCHED_H

/* Remembers the policy sbxd was started with. Once, at start. */
void sbxd_sched_init(void);
/* Before a command starts, with the number of others still running. */
void sbxd_sched_before_start(int running);
/* In a command's (or a sandbox's) child, before exec: the policy sbxd was started
 * with, or SCHED_OTHER in place of a real-time one. */
void sbxd_sched_in_child(void);

#endif
