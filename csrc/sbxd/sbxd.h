/* sbxd's shared types: the server, sandboxes, processes, and a refusal. */
#ifndef SBXD_H
#define SBXD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <uv.h>
#include "list.h"
#include "writers.h"

/* An id's bytes: "sbx_", with --node a node of at most 4 digits and "_", 16 hex digits,
 * and a NUL. */
#define SBXD_ID_MAX 32
#define SBXD_NODE_MAX 9999

struct lws;
struct lws_context;
struct sbxd_proc;
struct sbxd_connwatch;

/* Why a request was refused: becomes {"error":{"kind":,"message":}} with `status`. */
struct sbxd_err {
    int status;
    const char *kind;
    char message[256];
};
int sbxd_fail(struct sbxd_err *err, int status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct sbxd_initchan;
struct sbxd_cgroup;
struct sbxd_cgroups;

struct sbxd_sandbox {
    struct sbxd_server *srv;
    struct sbx_list link;      /* in srv->boxes */
    char id[SBXD_ID_MAX];      /* sbx_<hex>, or sbx_<node>_<hex> with --node */
    char *dir;                 /* on the host: its directory under the root (boxfs.h) */
    const char *home;          /* its home as its commands see it: SBXD_HOME when isolated */
    char *home_buf;            /* the host path of its home, when that is `home` */
    json_t *env, *metadata;    /* objects of strings */
    int network;               /* create{network}: keeps the host's network namespace */
    pid_t bwrap;               /* isolated: bwrap's host pid, and a pidfd of its init (PID 1), */
    int init;                  /* -1 until the init said READY */
    int err;                   /* until then, bwrap's stderr */
    const char *failure;       /* why it did not start, when it did not */
    struct sbxd_initchan *chan;/* isolated: the init's channel; NULL with isolation none */
    int single_uid;            /* its users are sbxd's one uid (sbxd is not root) */
    int paused;                /* its processes are stopped, its timers held */
    int warm;                  /* started ahead, in srv->warm, nobody's yet */
    int kept_background;       /* its exited background processes kept (proc.c) */
    long pids;                 /* the most processes it may have (create{pids} or the default) */
    struct sbxd_cgroup *cg;    /* its cgroups; NULL where sbxd has none writable */
    double lifetime_left;      /* paused: seconds its lifetime had left */
    double paused_at;          /* paused: when the pause began (sbxd_now) */
    double paused_before;      /* seconds it was paused in all before that */
    double started_at, expires_at;
    uv_timer_t *lifetime;      /* malloc'd: its close completes after the sandbox is gone */
    struct sbxd_writers *killed_keys; /* start keys a kill by key came for before their start
                                         (writers.h), or NULL: such a start starts nothing */
    char create_key[SBXD_WRITER_ID_MAX + 1]; /* its create's `?key=`, or "": that create sent
                                                again is answered with this sandbox */
};

struct sbxd_server {
    uv_loop_t loop;
    struct lws_context *lws;
    struct sbxd_connwatch *conns;  /* connections lws leaves to sbxd (connwatch.h) */
    struct sbx_list boxes;     /* every sandbox alive, oldest first */
    struct sbx_list corpses;   /* killed sandboxes whose processes are not all gone yet */
    struct sbx_list warm;      /* sandboxes started ahead of their create (--warm) */
    int nwarm, warm_target;
    uv_timer_t refill;         /* starts warm ones after a create's answer */
    int refill_ready;
    int nboxes, max_sandboxes; /* alive, and the most sbxd keeps (--max-sandboxes) */
    struct sbx_list procs;     /* every process not yet reaped */
    struct sbx_list kept;      /* exited processes kept for attach, oldest exit first */
    uint64_t next_serial;      /* the serial the next process gets (never 0) */
    uint64_t log_stamp;        /* counts appends to every log: orders their oldest bytes */
    uint64_t log_bytes;        /* held by every log together */
    uint64_t max_log, max_logs;/* per process (--max-log), all together (--max-logs) */
    double resume_grace;       /* --resume-grace seconds */
    int running;               /* commands started and not yet exited (reaped) */
    int max_procs;             /* the most `running` may be (--max-procs) */
    long default_pids;         /* a sandbox's process bound without create{pids} (--default-pids) */
    const char *api_key;       /* NULL: no key (unix sockets only) */
    size_t max_body;
    double keepalive;
    char *root;
    int own_root;              /* made by us: removed at exit */
    int isolation;             /* 1: bubblewrap and an init per sandbox; 0: --isolation none */
    const char *bwrap, *init;  /* the programs, found at start (NULL: not found) */
    const char *no_isolation;  /* why sandboxes cannot be made (NULL: they can) */
    struct sbxd_cgroups *cgroups; /* the controllers sbxd can write (cgroup.h) */
    int cgroup_delegated;      /* --cgroup-delegated: its v2 group is its own (cgroup.h) */
    int node;                  /* --node: the number in every id it mints; -1: none */
    int quiet;
    int stopping;
    uv_signal_t sigterm, sigint;
    uv_poll_t sigchld;         /* on sigchld_fd, a signalfd for SIGCHLD */
    int sigchld_fd;
    uv_poll_t parent;          /* --parent-fd: EOF means our parent died */
    int parent_fd;
    char readbuf[65536];       /* every pipe read lands here, then in a log */
};

double sbxd_now(void);         /* wall clock, seconds since the epoch */
/* A timer's milliseconds for a timeout of `seconds` > 0: at least 1, at most
 * SBX_TIMEOUT_MAX seconds' worth (longer ones are clamped, never wrapped). */
uint64_t sbxd_timeout_ms(double seconds);

/* sandbox.c */
struct sbxd_sandbox *sbxd_sandbox_find(struct sbxd_server *srv, const char *id);
/* The live sandbox its create's key `key` (not "") made, or NULL. */
struct sbxd_sandbox *sbxd_sandbox_find_created(struct sbxd_server *srv, const char *key);
struct sbxd_create_req;
struct sbxd_sandbox *sbxd_sandbox_create(struct sbxd_server *srv, const struct sbxd_create_req *req,
                                         struct sbxd_err *err);
/* The oldest sandbox alive, or NULL. */
struct sbxd_sandbox *sbxd_sandbox_first(struct sbxd_server *srv);
void sbxd_sandbox_set_lifetime(struct sbxd_sandbox *box, double lifetime);
/* Kills it and its processes, whose end says `reason` ("sandbox_killed",
 * "sandbox_timeout"), and frees it. */
void sbxd_sandbox_destroy(struct sbxd_sandbox *box, const char *reason);
/* Shutdown: kills the sandboxes kept warm. */
void sbxd_sandbox_free_warm(struct sbxd_server *srv);
/* bury.c: the directory and cgroups of a sandbox being destroyed, now or once its init
 * is gone. */
void sbxd_sandbox_bury(struct sbxd_sandbox *box);
/* Shutdown: removes the directories of killed sandboxes still waited for. */
void sbxd_sandbox_bury_all(struct sbxd_server *srv);
json_t *sbxd_sandbox_info(const struct sbxd_sandbox *box);
/* Every process of it stopped, its lifetime and its commands' timeouts held; and back.
 * Each is a no-op in the state it leads to. -1 with err set on failure. */
int sbxd_sandbox_pause(struct sbxd_sandbox *box, struct sbxd_err *err);
int sbxd_sandbox_resume(struct sbxd_sandbox *box, struct sbxd_err *err);
int sbxd_remove_tree(const char *path);
/* Every directory from / down to `path` (absolute) lets others search it (o+x). */
int sbxd_searchable_by_all(const char *path);

#endif
