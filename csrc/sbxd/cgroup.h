/* Each sandbox's control groups: its limits (memory, pids, cpu), pause and resume with the
 * freezer, the count of its OOM kills, and the removal of what a crashed sbxd left.
 *
 * Layout: in each controller's hierarchy, sbxd makes one parent group under the group it
 * was started in, `<own group>/sbxd-<name>`, and one group per sandbox under it,
 * `<own group>/sbxd-<name>/<id>`. Everything under the parent is sbxd's: a group there
 * that no running sandbox owns is a leftover, and the sweep removes it.
 *
 * cgroup v1 (a hierarchy per controller, or a few controllers mounted together) and v2
 * (one unified hierarchy) are both read from /proc/self/mountinfo and /proc/self/cgroup;
 * a controller mounted in a v1 hierarchy is used there, else from v2. Under v2, memory,
 * pids and cpu are usable only where sbxd's own group hands them to its children (its
 * cgroup.subtree_control lists them). By default sbxd never moves itself nor writes a
 * file of a group it did not make. Told that its group is delegated to it (a container's
 * cgroup namespace, a systemd unit with Delegate=yes), it enables them there itself, and
 * since a group with processes of its own cannot hand controllers down, it first moves
 * the processes of its group, itself included, into the leaf `<own group>/sbxd-<name>@daemon`
 * beside its parent group. The v2 freeze needs no controller and works in any group.
 *
 * Where nothing is writable (sbxd not root, no cgroupfs mounted), the mask is empty and
 * every call below reports so cleanly: sbxd refuses limits and pauses by signals.
 *
 * Plain libc; every call is synchronous. The freeze waits at most about a second for the
 * kernel; a removal may freeze first and then waits about a second more for the killed
 * processes to leave their groups. */
#ifndef SBXD_CGROUP_H
#define SBXD_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* The controllers, as bits of a mask. */
enum {
    SBXD_CG_FREEZER = 1 << 0,
    SBXD_CG_MEMORY = 1 << 1,
    SBXD_CG_PIDS = 1 << 2,
    SBXD_CG_CPU = 1 << 3,
};
#define SBXD_CG_COUNT 4

/* The longest `name` (for sbxd-<name>) and sandbox `id` accepted. */
#define SBXD_CG_NAME_MAX 64

/* A pids limit for a sandbox whose create asks none, so that a fork bomb stays in its
 * sandbox: well above what a build or a test suite runs at once. Applying it is the
 * caller's choice (the module takes 0 as "no limit"). */
#define SBXD_CG_PIDS_DEFAULT 4096

/* Where one controller lives. */
struct sbxd_cg_place {
    int version;                /* 1 or 2; 0 = not usable (then parent means nothing) */
    char parent[PATH_MAX];      /* the directory of <own group>/sbxd-<name> */
};

/* What sbxd found at start. Filled by sbxd_cgroups_open; read-only afterwards. */
struct sbxd_cgroups {
    unsigned mask;                              /* SBXD_CG_* bits usable */
    int moved;  /* processes a delegation moved into the leaf; -1 when it failed: */
    int delegate_errno;                         /* why (an errno value) */
    struct sbxd_cg_place place[SBXD_CG_COUNT];  /* indexed by bit number */
};

/* A sandbox's limits; 0 means none. */
struct sbxd_limits {
    long memory_mb;  /* memory, swap included, in MiB */
    long pids;       /* processes and threads at once */
    double cpus;     /* CPU time per wall time, e.g. 0.5 or 2 */
};

/* One sandbox's groups (opaque). */
struct sbxd_cgroup;

/* Once at sbxd start. `name` (letters, digits, '.', '_', '-'; at most SBXD_CG_NAME_MAX) is
 * stable for a given sbxd root, so a restarted sbxd finds its predecessor's groups.
 * Finds each controller's mount and sbxd's own group, makes the parent group there
 * (existing is fine), and puts in the mask each controller whose parent group it can
 * write. `delegated`: sbxd's v2 group is its own to manage (see above). Never fails:
 * what cannot be had is left out of the mask. Returns the mask. */
unsigned sbxd_cgroups_open(struct sbxd_cgroups *cg, const char *name, int delegated);

/* The same, reading the given files instead of /proc/self/mountinfo and
 * /proc/self/cgroup: lets a test pick the hierarchies. */
unsigned sbxd_cgroups_open_from(struct sbxd_cgroups *cg, const char *name, int delegated,
                                const char *mountinfo, const char *self_cgroup);

/* Whether a controller (one SBXD_CG_* bit) is usable. */
int sbxd_cgroups_have(const struct sbxd_cgroups *cg, unsigned controller);

/* Removes every group under the parent groups, the leftovers of a previous sbxd on the
 * same name: thaws it, kills (SIGKILL) each process in it, and removes it once empty.
 * Call it before the first create, and only while no other sbxd runs on the same name
 * (it would take that one's sandboxes for leftovers). Returns how many sandboxes'
 * groups it removed. */
int sbxd_cgroups_sweep(const struct sbxd_cgroups *cg);

/* Removes the parent groups where they are empty; the mask is empty afterwards. */
void sbxd_cgroups_close(struct sbxd_cgroups *cg);

/* Makes the groups of sandbox `id` (same characters as `name`) in every usable controller
 * and writes `lim` into them. A limit whose controller is not usable, a bad id or limit,
 * an id whose groups exist already, or a failed write: NULL, with the reason (and the
 * errno's text where there is one) in `why`, and nothing left behind. */
struct sbxd_cgroup *sbxd_cgroup_create(const struct sbxd_cgroups *cg, const char *id,
                                       const struct sbxd_limits *lim, char *why,
                                       size_t whylen);

/* Moves process `pid` into each of the sandbox's groups. The caller does it while the
 * sandbox's first process waits, before it runs anything, so that every process the
 * sandbox ever starts is born inside. 0, or -1 with errno. */
int sbxd_cgroup_join(const struct sbxd_cgroup *g, pid_t pid);

/* Whether the sandbox has a freezer group (else the caller pauses by signals). */
int sbxd_cgroup_can_freeze(const struct sbxd_cgroup *g);

/* Freezes every process of the sandbox, and returns once the kernel reports the whole
 * group frozen: 0. When that does not happen within about a second (a process stuck in
 * the kernel), thaws the group again and returns -1 with errno ETIMEDOUT; with no freezer
 * group, -1 with ENOTSUP. */
int sbxd_cgroup_freeze(const struct sbxd_cgroup *g);

/* Lets the processes run again. 0, or -1 with errno (ENOTSUP with no freezer group). */
int sbxd_cgroup_thaw(const struct sbxd_cgroup *g);

/* How many processes the kernel has killed for the sandbox's memory limit so far, or -1
 * without a memory group. The caller compares it around a command to tell "killed by
 * the memory limit" from any other SIGKILL. */
long sbxd_cgroup_oom_kills(const struct sbxd_cgroup *g);

/* Kills (SIGKILL) every process of the sandbox, removes its groups, and frees `g` in any
 * case. 0 when every group is gone; -1 when one stayed after a bounded wait (a process
 * the kernel could not yet release); the next sweep removes it. NULL is fine. */
int sbxd_cgroup_destroy(struct sbxd_cgroup *g);

#endif
