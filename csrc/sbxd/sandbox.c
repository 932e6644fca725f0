#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include "proc.h"
#include "protocol.h"
#include "sbxd.h"

struct sbxd_sandbox *sbxd_sandbox_find(struct sbxd_server *srv, const char *id)
{
    struct sbx_list *n;
    sbx_list_each(n, &srv->boxes) {
        struct sbxd_sandbox *b = sbx_list_entry(n, struct sbxd_sandbox, link);
        if (strcmp(b->id, id) == 0) return b;
    }
    return NULL;
}

struct sbxd_sandbox *sbxd_sandbox_first(struct sbxd_server *srv)
{
    if (sbx_list_empty(&srv->boxes)) return NULL;
    return sbx_list_entry(srv->boxes.next, struct sbxd_sandbox, link);
}

static int new_id(char id[24])
{
    unsigned char raw[8];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return -1;
    int n = snprintf(id, 24, "%s", SBX_ID_PREFIX);
    for (size_t i = 0; i < sizeof raw; i++) n += snprintf(id + n, 24 - (size_t)n, "%02x", raw[i]);
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
    uv_timer_start(box->lifetime, on_lifetime_end, sbxd_timeout_ms(lifetime), 0);
}

/* Its home: a directory of its own under the root, searchable by other users so a
 * command run as another user can start there. */
static char *make_home(struct sbxd_server *srv, const char *id)
{
    size_t len = strlen(srv->root) + strlen(id) + 2;
    char *dir = malloc(len);
    if (!dir) return NULL;
    snprintf(dir, len, "%s/%s", srv->root, id);
    if (mkdir(dir, 0711) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

struct sbxd_sandbox *sbxd_sandbox_create(struct sbxd_server *srv, json_t *env, json_t *metadata,
                                         double lifetime, int network, struct sbxd_err *err)
{
    if (srv->nboxes >= srv->max_sandboxes) {
        sbxd_fail(err, 429, SBX_ERR_SANDBOX, "too many sandboxes: at most %d (--max-sandboxes)",
                  srv->max_sandboxes);
        return NULL;
    }
    struct sbxd_sandbox *box = calloc(1, sizeof *box);
    if (!box || new_id(box->id) != 0 || !(box->lifetime = malloc(sizeof *box->lifetime)) ||
        !(box->dir = make_home(srv, box->id))) {
        if (box) free(box->lifetime), free(box);
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "cannot create the sandbox");
        return NULL;
    }
    box->srv = srv;
    box->env = json_incref(env);
    box->metadata = json_incref(metadata);
    box->network = network;
    box->started_at = sbxd_now();
    uv_timer_init(&srv->loop, box->lifetime);
    box->lifetime->data = box;
    sbxd_sandbox_set_lifetime(box, lifetime);
    sbx_list_push_back(&srv->boxes, &box->link);
    srv->nboxes++;
    return box;
}

static void free_timer(uv_handle_t *h) { free(h); }

void sbxd_sandbox_destroy(struct sbxd_sandbox *box, const char *reason)
{
    struct sbxd_server *srv = box->srv;
    sbx_list_remove(&box->link);
    srv->nboxes--;
    sbxd_proc_kill_sandbox(box, strcmp(reason, "sandbox_timeout") == 0 ? reason : NULL);
    uv_close((uv_handle_t *)box->lifetime, free_timer);
    sbxd_remove_tree(box->dir);
    free(box->dir);
    json_decref(box->env);
    json_decref(box->metadata);
    free(box);
}

json_t *sbxd_sandbox_info(const struct sbxd_sandbox *box)
{
    return json_pack("{s:s, s:s, s:f, s:f, s:O, s:b}", "id", box->id, "state", "running",
                     "started_at", box->started_at, "expires_at", box->expires_at,
                     "metadata", box->metadata, "network", box->network);
}
