/* sbxd's shared types: the server, sandboxes, processes, and a refusal. */
#ifndef SBXD_H
#define SBXD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <uv.h>
#include "list.h"

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

struct sbxd_sandbox {
    struct sbxd_server *srv;
    struct sbx_list link;      /* in srv->boxes */
    char id[24];
    char *dir;                 /* its private home */
    json_t *env, *metadata;    /* objects of strings */
    int network;               /* create{network}: recorded and reported; isolation comes later */
    double started_at, expires_at;
    uv_timer_t *lifetime;      /* malloc'd: its close completes after the sandbox is gone */
};

struct sbxd_server {
    uv_loop_t loop;
    struct lws_context *lws;
    struct sbxd_connwatch *conns;  /* connections lws leaves to sbxd (connwatch.h) */
    struct sbx_list boxes;     /* every sandbox alive, oldest first */
    int nboxes, max_sandboxes; /* alive, and the most sbxd keeps (--max-sandboxes) */
    struct sbx_list procs;     /* every process not yet reaped and released */
    int running;               /* commands started and not yet exited (reaped) */
    int max_procs;             /* the most `running` may be (--max-procs) */
    const char *api_key;       /* NULL: no key (unix sockets only) */
    size_t max_body;
    double keepalive;
    char *root;
    int own_root;              /* made by us: removed at exit */
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
struct sbxd_sandbox *sbxd_sandbox_create(struct sbxd_server *srv, json_t *env, json_t *metadata,
                                         double lifetime, int network, struct sbxd_err *err);
/* The oldest sandbox alive, or NULL. */
struct sbxd_sandbox *sbxd_sandbox_first(struct sbxd_server *srv);
void sbxd_sandbox_set_lifetime(struct sbxd_sandbox *box, double lifetime);
/* Kills its processes with `reason` ("signal" or "sandbox_timeout") and frees it. */
void sbxd_sandbox_destroy(struct sbxd_sandbox *box, const char *reason);
json_t *sbxd_sandbox_info(const struct sbxd_sandbox *box);
int sbxd_remove_tree(const char *path);

#endif
