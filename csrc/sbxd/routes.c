/* The routes of docs/PROTOCOL.md: path and method to a handler. */
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "protocol.h"
#include "request.h"

static int reply_fail(struct lws *wsi, int status, const char *kind, const char *message)
{
    struct sbxd_err err;
    sbxd_fail(&err, status, kind, "%s", message);
    return sbxd_reply_error(wsi, &err);
}

static int create_sandbox(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c)
{
    struct sbxd_create_req req;
    struct sbxd_err err;
    if (sbxd_parse_create(c->body, c->body_len, &req, &err)) return sbxd_reply_error(wsi, &err);
    struct sbxd_sandbox *box = sbxd_sandbox_create(srv, &req, &err);
    sbxd_create_req_free(&req);
    if (!box) return sbxd_reply_error(wsi, &err);
    return sbxd_reply(wsi, 201, sbxd_sandbox_info(box));
}

/* The list's filter: ?metadata.KEY=VALUE&... (lws decodes the %-escapes), as an object
 * of KEY to VALUE; NULL with err set for any other query parameter. */
static json_t *metadata_filter(struct lws *wsi, struct sbxd_err *err)
{
    static char frag[SBXD_URI_MAX + 2];
    const char *prefix = "metadata.";
    json_t *filter = json_object();
    for (int i = 0; filter && lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        char *eq = strchr(frag, '=');
        if (strncmp(frag, prefix, strlen(prefix)) != 0 || !eq || eq == frag + strlen(prefix)) {
            sbxd_fail(err, 400, SBX_ERR_INVALID, "unknown query parameter '%.64s': the list takes metadata.KEY=VALUE",
                      frag);
            json_decref(filter);
            return NULL;
        }
        *eq = '\0';
        json_object_set_new(filter, frag + strlen(prefix), json_string(eq + 1));
    }
    return filter;
}

/* Whether every KEY=VALUE of the filter is in the sandbox's metadata. */
static int has_metadata(const struct sbxd_sandbox *box, json_t *filter)
{
    const char *key;
    json_t *want;
    json_object_foreach(filter, key, want) {
        json_t *have = json_object_get(box->metadata, key);
        if (!have || !json_equal(have, want)) return 0;
    }
    return 1;
}

static int list_sandboxes(struct lws *wsi, struct sbxd_server *srv)
{
    struct sbxd_err err;
    json_t *filter = metadata_filter(wsi, &err);
    if (!filter) return sbxd_reply_error(wsi, &err);
    json_t *arr = json_array();
    struct sbx_list *n;
    sbx_list_each(n, &srv->boxes) {
        struct sbxd_sandbox *box = sbx_list_entry(n, struct sbxd_sandbox, link);
        if (has_metadata(box, filter)) json_array_append_new(arr, sbxd_sandbox_info(box));
    }
    json_decref(filter);
    return sbxd_reply(wsi, 200, json_pack("{s:o}", "sandboxes", arr));
}

static int set_timeout(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c)
{
    double timeout;
    struct sbxd_err err;
    if (sbxd_parse_timeout(c->body, c->body_len, &timeout, &err)) return sbxd_reply_error(wsi, &err);
    sbxd_sandbox_set_lifetime(box, timeout);
    return sbxd_reply(wsi, 200, sbxd_sandbox_info(box));
}

/* pause or resume; either answers the sandbox's info. */
static int pause_or_resume(struct lws *wsi, struct sbxd_sandbox *box, int pause)
{
    struct sbxd_err err;
    if ((pause ? sbxd_sandbox_pause : sbxd_sandbox_resume)(box, &err)) return sbxd_reply_error(wsi, &err);
    return sbxd_reply(wsi, 200, sbxd_sandbox_info(box));
}

/* A command on a paused sandbox resumes it first. */
static int start_process(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c)
{
    struct sbxd_start_req req;
    struct sbxd_err err;
    if (sbxd_parse_start(c->body, c->body_len, &req, &err)) return sbxd_reply_error(wsi, &err);
    if (sbxd_sandbox_resume(box, &err)) {
        sbxd_start_req_free(&req);
        return sbxd_reply_error(wsi, &err);
    }
    struct sbxd_proc *p = sbxd_proc_start(box, &req, &err);
    sbxd_start_req_free(&req);
    if (!p) return sbxd_reply_error(wsi, &err);
    return sbxd_sse_begin(wsi, c, p, 0, sbxd_accepts_frames(wsi)) == 0 ? 0 : -1;
}

/* POST /sandboxes/{id}/processes/{pid}/signal: {"killed": whether it was running}. A
 * signal to a paused sandbox's process resumes the sandbox first. */
static int signal_process(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid)
{
    int sig;
    struct sbxd_err err;
    if (sbxd_parse_signal(c->body, c->body_len, &sig, &err)) return sbxd_reply_error(wsi, &err);
    if (sbxd_sandbox_resume(box, &err)) return sbxd_reply_error(wsi, &err);
    return sbxd_reply(wsi, 200, json_pack("{s:b}", "killed", sbxd_proc_signal_pid(box, pid, sig)));
}

/* "/processes/{pid}/ACTION" ("/signal", "/events"): the pid, or 0 when the rest is not
 * that. */
static pid_t process_route(const char *rest, const char *action)
{
    const char *prefix = "/processes/";
    if (strncmp(rest, prefix, strlen(prefix)) != 0) return 0;
    char *end;
    long pid = strtol(rest + strlen(prefix), &end, 10);
    if (end == rest + strlen(prefix) || strcmp(end, action) != 0 || pid <= 0 || pid > 4194304) return 0;
    return (pid_t)pid;
}

static pid_t signal_route(const char *rest)
{
    return process_route(rest, "/signal");
}

/* /sandboxes/{id}[/rest]: splits the id and the rest ("" when none). */
static int split_sandbox_path(const char *path, char *id, size_t idlen, const char **rest)
{
    const char *prefix = "/sandboxes/";
    if (strncmp(path, prefix, strlen(prefix)) != 0) return -1;
    const char *s = path + strlen(prefix), *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= idlen) return -1;
    memcpy(id, s, n);
    id[n] = '\0';
    *rest = slash ? slash : "";
    return 0;
}

static int route_sandbox(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c,
                         const char *id, const char *rest)
{
    pid_t pid = signal_route(rest), events = process_route(rest, "/events");
    int known = !strcmp(rest, "") || !strcmp(rest, "/timeout") || !strcmp(rest, "/processes") ||
                !strcmp(rest, "/pause") || !strcmp(rest, "/resume") || pid > 0 || events > 0;
    if (!known) return reply_fail(wsi, 404, SBX_ERR_NOT_FOUND, "no such route");
    struct sbxd_sandbox *box = sbxd_sandbox_find(srv, id);
    if (!box) {
        struct sbxd_err err;
        sbxd_fail(&err, 404, SBX_ERR_NOT_FOUND, "no sandbox '%.64s'", id);
        return sbxd_reply_error(wsi, &err);
    }
    if (!strcmp(rest, "") && c->method == SBXD_GET) return sbxd_reply(wsi, 200, sbxd_sandbox_info(box));
    if (!strcmp(rest, "") && c->method == SBXD_DELETE) {
        sbxd_sandbox_destroy(box, "sandbox_killed");
        return sbxd_reply(wsi, 200, json_pack("{s:b}", "killed", 1));
    }
    if (!strcmp(rest, "/timeout") && c->method == SBXD_POST) return set_timeout(wsi, box, c);
    if (!strcmp(rest, "/pause") && c->method == SBXD_POST) return pause_or_resume(wsi, box, 1);
    if (!strcmp(rest, "/resume") && c->method == SBXD_POST) return pause_or_resume(wsi, box, 0);
    if (!strcmp(rest, "/processes") && c->method == SBXD_POST) return start_process(wsi, box, c);
    if (!strcmp(rest, "/processes") && c->method == SBXD_GET)
        return sbxd_reply(wsi, 200, json_pack("{s:o}", "processes", sbxd_proc_list(box)));
    if (pid > 0 && c->method == SBXD_POST) return signal_process(wsi, box, c, pid);
    if (events > 0 && c->method == SBXD_GET) return sbxd_attach(wsi, box, c, events);
    return reply_fail(wsi, 405, SBX_ERR_INVALID, "method not allowed");
}

int sbxd_route(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c)
{
    if (!c->authorized) return reply_fail(wsi, 401, SBX_ERR_AUTH, "missing or wrong API key");
    if (c->too_big) return reply_fail(wsi, 413, SBX_ERR_INVALID, "request body over the limit");
    if (c->path_too_long) return reply_fail(wsi, 404, SBX_ERR_NOT_FOUND, "no such route");
    if (!strcmp(c->path, "/sandboxes")) {
        if (c->method == SBXD_GET) return list_sandboxes(wsi, srv);
        if (c->method == SBXD_POST) return create_sandbox(wsi, srv, c);
        return reply_fail(wsi, 405, SBX_ERR_INVALID, "method not allowed");
    }
    char id[64];
    const char *rest;
    if (split_sandbox_path(c->path, id, sizeof id, &rest) == 0)
        return route_sandbox(wsi, srv, c, id, rest);
    return reply_fail(wsi, 404, SBX_ERR_NOT_FOUND, "no such route");
}
