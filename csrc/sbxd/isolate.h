/* Starts a sandbox: bwrap with the sandbox's namespaces, running the init as PID 1. A
 * create does not wait for it: commands sent meanwhile wait in the channel, and the
 * init's READY comes through the channel like any message. Only sbxd's start waits for
 * one, bounded, to learn whether sandboxes can be had at all. */
#ifndef SBXD_ISOLATE_H
#define SBXD_ISOLATE_H
#include <sys/types.h>
#include "bwrap_args.h"

/* As root, the sandbox's uids 0-65535 are the host's SBXD_UID_BASE-(SBXD_UID_BASE+65535). */
#define SBXD_UID_BASE 100000L
#define SBXD_UID_COUNT 65536L

struct sbxd_isolated {
    pid_t bwrap;    /* host pid of bwrap, sbxd's child: killing it kills the sandbox */
    int chan;       /* sbxd's end of the init's channel (close-on-exec) */
    int init;       /* a pidfd of the init, the sandbox's PID 1: when it has exited, the
                       kernel has killed every process of the sandbox; -1 until READY */
    int err;        /* bwrap's stderr (non-blocking), what it says when it fails; -1 */
};

/* Called with bwrap's pid before bwrap runs (to put it into the sandbox's cgroups). */
typedef int (*sbxd_isolate_join)(void *ctx, pid_t pid);

/* Forks bwrap and lets it go, without waiting for the init. `c->single_uid` unset: sbxd
 * maps SBXD_UID_BASE (it must be root). -1 with `why` set. */
int sbxd_isolate_spawn(const struct sbxd_bwrap_conf *c, sbxd_isolate_join join, void *ctx,
                       struct sbxd_isolated *out, char *why, size_t whylen);
/* The same, then waits (bounded) for the init's READY; out->init is set. */
int sbxd_isolate_start(const struct sbxd_bwrap_conf *c, sbxd_isolate_join join, void *ctx,
                       struct sbxd_isolated *out, char *why, size_t whylen);
/* A pidfd of the init of the sandbox bwrap `bwrap` runs, once its READY came; -1. */
int sbxd_isolate_open_init(pid_t bwrap);
/* Why a sandbox did not start: the first line bwrap (or the init) wrote on `err`. */
void sbxd_isolate_failure(int err, char *why, size_t whylen);
/* Kills the sandbox: its init (so everything in it) and bwrap. Closes nothing. */
void sbxd_isolate_kill(const struct sbxd_isolated *iso);
/* Waits at most `ms` for the init (a pidfd) to be gone: 0 when it is, -1 when not yet. */
int sbxd_isolate_wait_gone(int init, int ms);

#endif
