#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boxfs.h"
#include "cgroup.h"
#include "initchan.h"
#include "isolate.h"
#include "launch.h"
#include "proc.h"
#include "request.h"
#include "protocol.h"
#include "sbxd.h"
#include "users.h"


struct sbxd_sandbox *sbxd_sandbox_find(struct sbxd_server *srv, const char *id)
{
    struct sbx_list *n;
    sbx_list_each(n, &srv->boxes) {
        struct sbxd_sandbox *b = sbx_list_entry(n, struct sbxd_sandbox, link);
        if (strcmp(b->id, id) == 0) return b;
    }
    return NULL;
}

struct sbxd_sandbox *sbxd_sandbox_find_created(struct sbxd_server *srv, const char *key)
{
    struct sbx_list *n;
    sbx_list_each(n, &srv->boxes) {
        struct sbxd_sandbox *b = sbx_list_entry(n, struct sbxd_sandbox, link);
        if (strcmp(b->create_key, key) == 0) return b;
    }
    return NULL;
}

struct sbxd_sandbox *sbxd_sandbox_first(struct sbxd_server *srv)
{
    if (sbx_list_empty(&srv->boxes)) return NULL;
    return sbx_list_entry(srv->boxes.next, struct sbxd_sandbox, link);
}

/* sbx_<16 hex>, or sbx_<node>_<16 hex> when sbxd is one node of several (--node): a
 * proxy in front routes the id to its node by that number. */
static int new_id(const struct sbxd_server *srv, char id[SBXD_ID_MAX])
{
    unsigned char raw[8];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return -1;
    int n = srv->node >= 0 ? snprintf(id, SBXD_ID_MAX, "%s%d_", SBX_ID_PREFIX, srv->node)
                           : snprintf(id, SBXD_ID_MAX, "%s", SBX_ID_PREFIX);
    for (size_t i = 0; i < sizeof raw; i++)
        n += snprintf(id + n, SBXD_ID_MAX - (size_t)n, "%02x", raw[i]);
    return 0;
}

static void on_lifetime_end(uv_timer_t *t)
{
    sbxd_sandbox_destroy(t->data, "sandbox_timeout");
}

void sbxd_sandbox_set_lifetime(struct sbxd_sandbox *box, double lifetime)
{
    if (lifetime > SBX_TIMEOUT_MAX) lifetime = SBX_TIMEOUT_MAX; /* what expires_at says too */
    box->expires_at = sbxd_now() + lifetime;
    if (box->paused) box->lifetime_left = lifetime; /* it runs again at resume */
    else uv_timer_start(box->lifetime, on_lifetime_end, sbxd_timeout_ms(lifetime), 0);
}

/* ---- the init's messages */

/* The init runs: the sandbox is up. bwrap's stderr is of no more use. */
static void on_ready(struct sbxd_sandbox *box)
{
    if (box->init >= 0) return; /* a second READY: nothing new */
    box->init = sbxd_isolate_open_init(box->bwrap);
    if (box->err >= 0) close(box->err);
    box->err = -1;
}

/* The init is gone, or can no longer be trusted: so is the sandbox. Gone before its
 * READY, it never started: what bwrap said is what its waiting commands are told. */
static void on_init_lost(struct sbxd_sandbox *box)
{
    static char why[300];
    if (box->init < 0) {
        char reason[200];
        sbxd_isolate_failure(box->err, reason, sizeof reason);
        snprintf(why, sizeof why, "the sandbox did not start: %s", reason);
        box->failure = why;
        if (!box->srv->quiet) fprintf(stderr, "sbxd: sandbox %s: %s\n", box->id, why);
    }
    sbxd_sandbox_destroy(box, "sandbox_killed");
}

static void on_init_message(void *ctx, const struct sbx_init_reply *m, int fd)
{
    struct sbxd_sandbox *box = ctx;
    if (!m) {
        on_init_lost(box);
        return;
    }
    struct sbxd_proc *p = m->type == SBX_INIT_STARTED ? sbxd_proc_find_start(box, m->seq) : NULL;
    if (p) sbxd_proc_take_pty(p, fd); /* a pty master, when the start asked for one */
    else if (fd >= 0) close(fd);
    switch (m->type) {
    case SBX_INIT_READY:
        on_ready(box);
        break;
    case SBX_INIT_STARTED:
        if (p) sbxd_proc_started(p, m->pid);
        break;
    case SBX_INIT_FAILED:
        if ((p = sbxd_proc_find_start(box, m->seq))) sbxd_proc_start_failed(p, m->step, m->err);
        break;
    case SBX_INIT_EXITED:
        if ((p = sbxd_proc_find_pid(box, m->pid))) sbxd_proc_exited(p, m->status);
        break;
    default:
        break;
    }
}

/* Its cgroups, with its limits, where sbxd has writable ones. A limit sbxd cannot apply is
 * refused, never ignored; pids falls back on the init's RLIMIT_NPROC. */
static int make_cgroups(struct sbxd_sandbox *box, const struct sbxd_create_req *req, struct sbxd_err *err)
{
    const struct sbxd_cgroups *cg = box->srv->cgroups;
    if (req->memory_mb && !(cg && sbxd_cgroups_have(cg, SBXD_CG_MEMORY)))
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "'memory_mb' needs a writable memory cgroup, which this sbxd has not (it runs as root "
                         "where it has)");
    if (req->cpus && !(cg && sbxd_cgroups_have(cg, SBXD_CG_CPU)))
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "'cpus' needs a writable cpu cgroup, which this sbxd has not (it runs as root where it "
                         "has)");
    if (!cg || !cg->mask) return 0;
    struct sbxd_limits lim = {req->memory_mb, sbxd_cgroups_have(cg, SBXD_CG_PIDS) ? box->pids : 0, req->cpus};
    char why[200];
    if (!(box->cg = sbxd_cgroup_create(cg, box->id, &lim, why, sizeof why)))
        return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot create the sandbox's cgroups: %s", why);
    return 0;
}

/* bwrap's first process joins the cgroups before it runs anything. */
static int join_cgroups(void *ctx, pid_t pid)
{
    struct sbxd_sandbox *box = ctx;
    return box->cg ? sbxd_cgroup_join(box->cg, pid) : 0;
}

/* bwrap and its init for the sandbox; sets box->chan. The sandbox is answered created
 * while bwrap sets it up: a command sent meanwhile waits in the channel for the init. */
static int isolate(struct sbxd_sandbox *box, const struct sbxd_create_req *req, struct sbxd_err *err)
{
    struct sbxd_server *srv = box->srv;
    if (make_cgroups(box, req, err)) return -1;
    struct sbxd_bwrap_conf c = {srv->bwrap, srv->init, srv->root, box->dir, box->network, box->single_uid,
                                box->pids};
    struct sbxd_isolated iso;
    char why[200];
    if (sbxd_isolate_spawn(&c, join_cgroups, box, &iso, why, sizeof why))
        return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot start the sandbox: %s", why);
    box->bwrap = iso.bwrap;
    box->err = iso.err;
    box->chan = sbxd_initchan_open(&srv->loop, iso.chan, on_init_message, box);
    if (box->chan) return 0;
    sbxd_isolate_kill(&iso);
    close(iso.err);
    box->err = -1;
    return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot create the sandbox: out of memory");
}

/* Its directory and home. */
static int make_dirs(struct sbxd_sandbox *box)
{
    struct sbxd_server *srv = box->srv;
    box->dir = sbxd_boxfs_create(srv->root, box->id, srv->isolation && !box->single_uid ? SBXD_UID_BASE : -1);
    if (!box->dir) return -1;
    if (srv->isolation) {
        box->home = SBXD_HOME;
        return 0;
    }
    size_t len = strlen(box->dir) + sizeof "/home";
    if (!(box->home_buf = malloc(len))) return -1;
    snprintf(box->home_buf, len, "%s/home", box->dir);
    box->home = box->home_buf;
    return 0;
}

static void free_box(struct sbxd_sandbox *box)
{
    sbxd_writers_free(box->killed_keys);
    sbxd_cgroup_destroy(box->cg);
    if (box->dir) sbxd_remove_tree(box->dir);
    free(box->dir);
    free(box->home_buf);
    free(box->lifetime);
    free(box);
}

/* A sandbox up to its start (directories, cgroups, bwrap), not yet anyone's: no lifetime
 * running, in no list. */
static struct sbxd_sandbox *make_box(struct sbxd_server *srv, const struct sbxd_create_req *req,
                                     struct sbxd_err *err)
{
    if (srv->isolation && srv->no_isolation) {
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "%s", srv->no_isolation);
        return NULL;
    }
    if (!srv->isolation && (req->memory_mb || req->cpus || req->pids)) {
        sbxd_fail(err, 400, SBX_ERR_INVALID, "limits need isolation: this sbxd runs with --isolation none");
        return NULL;
    }
    struct sbxd_sandbox *box = calloc(1, sizeof *box);
    if (!box) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot create the sandbox: out of memory"), NULL;
    box->srv = srv;
    box->init = -1;
    box->err = -1;
    box->network = req->network;
    box->single_uid = geteuid() != 0;
    box->pids = req->pids ? req->pids : srv->default_pids;
    if (new_id(srv, box->id) != 0 || !(box->lifetime = malloc(sizeof *box->lifetime)) || make_dirs(box)) {
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot create the sandbox: %s", strerror(errno));
        free_box(box);
        return NULL;
    }
    if (srv->isolation && isolate(box, req, err)) {
        free_box(box);
        return NULL;
    }
    uv_timer_init(&srv->loop, box->lifetime);
    box->lifetime->data = box;
    return box;
}

/* The sandbox is the caller's from now: its env, metadata and lifetime. */
static void open_box(struct sbxd_sandbox *box, const struct sbxd_create_req *req)
{
    struct sbxd_server *srv = box->srv;
    box->env = json_incref(req->env);
    box->metadata = json_incref(req->metadata);
    box->started_at = sbxd_now();
    sbxd_sandbox_set_lifetime(box, req->timeout);
    sbx_list_push_back(&srv->boxes, &box->link);
    srv->nboxes++;
}

/* ---- warm sandboxes: started before anyone asks, so that a create with the defaults
 * (no network, no limit) takes one whose bwrap has already done its part. */

static int takes_warm(const struct sbxd_create_req *req)
{
    return !req->network && !req->memory_mb && !req->pids && !req->cpus;
}

static struct sbxd_sandbox *take_warm(struct sbxd_server *srv)
{
    if (sbx_list_empty(&srv->warm)) return NULL;
    struct sbxd_sandbox *box = sbx_list_entry(srv->warm.next, struct sbxd_sandbox, link);
    sbx_list_remove(&box->link);
    srv->nwarm--;
    box->warm = 0;
    return box;
}

static void on_refill(uv_timer_t *t)
{
    struct sbxd_server *srv = t->data;
    static const struct sbxd_create_req defaults;
    while (!srv->stopping && srv->nwarm < srv->warm_target && !srv->no_isolation) {
        struct sbxd_err err;
        struct sbxd_sandbox *box = make_box(srv, &defaults, &err);
        if (!box) return; /* the next create tries again */
        box->warm = 1;
        sbx_list_push_back(&srv->warm, &box->link);
        srv->nwarm++;
    }
}

/* After the answer to the create that asked for it: the refill costs a create's share of
 * sbxd's time, which that answer does not wait for. */
static void refill_soon(struct sbxd_server *srv)
{
    if (!srv->isolation || srv->warm_target <= 0 || srv->nwarm >= srv->warm_target) return;
    if (!srv->refill_ready) {
        uv_timer_init(&srv->loop, &srv->refill);
        srv->refill.data = srv;
        srv->refill_ready = 1;
    }
    uv_timer_start(&srv->refill, on_refill, 0, 0);
}

struct sbxd_sandbox *sbxd_sandbox_create(struct sbxd_server *srv, const struct sbxd_create_req *req,
                                         struct sbxd_err *err)
{
    if (srv->nboxes >= srv->max_sandboxes) {
        sbxd_fail(err, 429, SBX_ERR_SANDBOX, "too many sandboxes: at most %d (--max-sandboxes)",
                  srv->max_sandboxes);
        return NULL;
    }
    struct sbxd_sandbox *box = takes_warm(req) ? take_warm(srv) : NULL;
    if (!box && !(box = make_box(srv, req, err))) return NULL;
    open_box(box, req);
    refill_soon(srv);
    return box;
}

void sbxd_sandbox_free_warm(struct sbxd_server *srv)
{
    while (!sbx_list_empty(&srv->warm))
        sbxd_sandbox_destroy(sbx_list_entry(srv->warm.next, struct sbxd_sandbox, link), "sandbox_killed");
}

/* ---- the end of a sandbox */

static void free_timer(uv_handle_t *h) { free(h); }

void sbxd_sandbox_destroy(struct sbxd_sandbox *box, const char *reason)
{
    struct sbxd_server *srv = box->srv;
    sbx_list_remove(&box->link);
    if (box->warm) srv->nwarm--;
    else srv->nboxes--;
    /* A frozen process takes no signal, SIGKILL included, until it is thawed */
    if (box->paused && box->cg && sbxd_cgroup_can_freeze(box->cg)) sbxd_cgroup_thaw(box->cg);
    if (box->chan) {
        if (box->init < 0) box->init = sbxd_isolate_open_init(box->bwrap); /* not READY yet */
        struct sbxd_isolated iso = {box->bwrap, -1, box->init, -1};
        sbxd_isolate_kill(&iso);
        sbxd_initchan_close(box->chan);
        box->chan = NULL;
    }
    sbxd_proc_kill_sandbox(box, reason);
    uv_close((uv_handle_t *)box->lifetime, free_timer);
    box->lifetime = NULL;
    sbxd_sandbox_bury(box);
    if (box->err >= 0) close(box->err);
    json_decref(box->env);
    json_decref(box->metadata);
    sbxd_writers_free(box->killed_keys);
    free(box->dir);
    free(box->home_buf);
    free(box);
}

json_t *sbxd_sandbox_info(const struct sbxd_sandbox *box)
{
    /* Paused, the lifetime stands still: it ends that long after now, whenever now is */
    double now = sbxd_now();
    double expires_at = box->paused ? now + box->lifetime_left : box->expires_at;
    /* all the time its lifetime and its commands' timeouts stood still, this pause's too */
    double paused_for = box->paused_before + (box->paused ? now - box->paused_at : 0);
    return json_pack("{s:s, s:s, s:f, s:f, s:f, s:O, s:b, s:s}", "id", box->id, "state",
                     box->paused ? "paused" : "running", "started_at", box->started_at, "expires_at", expires_at,
                     "paused_for", paused_for, "metadata", box->metadata, "network", box->network,
                     "isolation", box->chan ? "bwrap" : "none");
}
