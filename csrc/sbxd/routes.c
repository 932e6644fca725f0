/* The routes of docs/PROTOCOL.md: path and method to a handler. */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "attach_req.h"
#include "http.h"
#include "later.h"
#include "protocol.h"
#include "request.h"
#include "wschan.h"

static int reply_fail(struct lws *wsi, int status, const char *kind, const char *message)
{
    struct sbxd_err err;
    sbxd_fail(&err, status, kind, "%s", message);
    return sbxd_reply_error(wsi, &err);
}

/* A 404 that names the request: a client whose URL has a wrong path (a proxy's prefix
 * given to sbxd itself, say) sees which path missed. */
static int no_route(struct lws *wsi, const struct sbxd_conn *c)
{
    struct sbxd_err err;
    sbxd_fail(&err, 404, SBX_ERR_NOT_FOUND, "no such route: %s %.100s", c->method_name, c->path);
    return sbxd_reply_error(wsi, &err);
}

/* One `key=KEY` of a query (frag, n bytes) into `key`; 0, or -1 with err set. */
static int take_key(const char *frag, int n, char key[SBXD_WRITER_ID_MAX + 1], struct sbxd_err *err)
{
    if (key[0]) return sbxd_fail(err, 400, SBX_ERR_INVALID, "query parameter 'key' given twice");
    if (!sbxd_writer_id_ok(frag + 4, (size_t)n - 4))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'key' must be 1 to %d of [0-9A-Za-z_-]", SBXD_WRITER_ID_MAX);
    memcpy(key, frag + 4, (size_t)n - 4);
    key[n - 4] = '\0';
    return 0;
}

/* A keyed call's query (a create, a start, a signal by key): its key (`key=KEY`) at
 * most, "" without. */
static int query_key(struct lws *wsi, char key[SBXD_WRITER_ID_MAX + 1], struct sbxd_err *err)
{
    static char frag[SBXD_URI_MAX + 2];
    key[0] = '\0';
    int n;
    for (int i = 0; (n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i)) > 0; i++) {
        if (n < 4 || memcmp(frag, "key=", 4) != 0)
            return sbxd_fail(err, 400, SBX_ERR_INVALID, "this route takes only key (the call's key) in its query");
        if (take_key(frag, n, key, err)) return -1;
    }
    return 0;
}

/* POST /sandboxes[?key=KEY]: 201 and the new sandbox's info. A create with the key of a
 * live sandbox's create makes nothing: 200 and that sandbox's info (a create sent again
 * after a cut, docs/PROTOCOL.md "A create sent again"). */
static int create_sandbox(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c)
{
    struct sbxd_create_req req;
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    if (query_key(wsi, key, &err) || sbxd_parse_create(c->body, c->body_len, &req, &err))
        return sbxd_reply_error(wsi, &err);
    struct sbxd_sandbox *made = key[0] ? sbxd_sandbox_find_created(srv, key) : NULL;
    if (made) {
        sbxd_create_req_free(&req);
        return sbxd_reply(wsi, 200, sbxd_sandbox_info(made));
    }
    struct sbxd_sandbox *box = sbxd_sandbox_create(srv, &req, &err);
    sbxd_create_req_free(&req);
    if (!box) return sbxd_reply_error(wsi, &err);
    memcpy(box->create_key, key, sizeof key);
    return sbxd_reply(wsi, 201, sbxd_sandbox_info(box));
}

/* One part of the list's query (frag, n bytes): metadata.KEY=VALUE into `filter`, or
 * key=KEY into `key`; 0, or -1 with err set for anything else. */
static int add_to_filter(json_t *filter, char *frag, int n, char key[SBXD_WRITER_ID_MAX + 1], struct sbxd_err *err)
{
    const char *prefix = "metadata.";
    if (n >= 4 && !memcmp(frag, "key=", 4)) return take_key(frag, n, key, err);
    char *eq = strchr(frag, '=');
    if (strncmp(frag, prefix, strlen(prefix)) != 0 || !eq || eq == frag + strlen(prefix))
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "unknown query parameter '%.64s': the list takes metadata.KEY=VALUE and key=KEY", frag);
    *eq = '\0';
    /* a name or value that is not UTF-8 would otherwise drop out of the filter and widen it */
    if (json_object_set_new(filter, frag + strlen(prefix), json_string(eq + 1)))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "metadata.%.64s: a metadata name and value are UTF-8",
                         frag + strlen(prefix));
    return 0;
}

/* The list's filter: ?metadata.KEY=VALUE&... (lws decodes the %-escapes), as an object
 * of KEY to VALUE, and at most one key=KEY (a create's key: the sandbox it made) into
 * `key`, "" without; NULL with err set for any other query parameter. */
static json_t *list_filter(struct lws *wsi, char key[SBXD_WRITER_ID_MAX + 1], struct sbxd_err *err)
{
    static char frag[SBXD_URI_MAX + 2];
    json_t *filter = json_object();
    key[0] = '\0';
    if (!filter) {
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
        return NULL;
    }
    int n;
    for (int i = 0; (n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i)) > 0; i++) {
        if (add_to_filter(filter, frag, n, key, err)) {
            json_decref(filter);
            return NULL;
        }
    }
    return filter;
}

/* Whether every KEY=VALUE of the filter is in the sandbox's metadata, and its create had
 * the key `key` when that is not "". */
static int listed(const struct sbxd_sandbox *box, json_t *filter, const char *key)
{
    if (key[0] && strcmp(box->create_key, key) != 0) return 0;
    const char *name;
    json_t *want;
    json_object_foreach(filter, name, want) {
        json_t *have = json_object_get(box->metadata, name);
        if (!have || !json_equal(have, want)) return 0;
    }
    return 1;
}

static int list_sandboxes(struct lws *wsi, struct sbxd_server *srv)
{
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    json_t *filter = list_filter(wsi, key, &err);
    if (!filter) return sbxd_reply_error(wsi, &err);
    json_t *arr = json_array();
    struct sbx_list *n;
    sbx_list_each(n, &srv->boxes) {
        struct sbxd_sandbox *box = sbx_list_entry(n, struct sbxd_sandbox, link);
        if (listed(box, filter, key)) json_array_append_new(arr, sbxd_sandbox_info(box));
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

/* A start sent again with the key of one taken: the stream of the process that one
 * began, from its first byte, as the first sending would have had it. While the init
 * has not said whether it started, 503: the client sends it again a moment later. */
static int start_again(struct lws *wsi, struct sbxd_conn *c, struct sbxd_proc *p)
{
    if (sbxd_proc_start_pending(p))
        return reply_fail(wsi, 503, SBX_ERR_SANDBOX, "the command of this key is still starting: send again");
    return sbxd_sse_begin(wsi, c, p, 0, sbxd_accepts_frames(wsi)) == 0 ? 0 : -1;
}

/* The start's request, checked whole; 0, or -1 with err set. */
static int parse_start(struct sbxd_conn *c, struct sbxd_start_req *req, struct sbxd_err *err)
{
    if (sbxd_parse_start(c->body, c->body_len, req, err)) return -1;
    if (!req->pty) return 0;
    sbxd_start_req_free(req);
    return sbxd_fail(err, 400, SBX_ERR_INVALID,
                     "'pty' is for interactive sessions: GET /sandboxes/{id}/processes/ws (WebSocket)");
}

/* POST /sandboxes/{id}/processes[?key=KEY]: the command's output stream. A command on a
 * paused sandbox resumes it first. A start with the key of one taken starts nothing
 * (docs/PROTOCOL.md "A start sent again"). */
static int start_process(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c)
{
    struct sbxd_start_req req;
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    if (query_key(wsi, key, &err) || parse_start(c, &req, &err)) return sbxd_reply_error(wsi, &err);
    if (sbxd_sandbox_resume(box, &err)) {
        sbxd_start_req_free(&req);
        return sbxd_reply_error(wsi, &err);
    }
    struct sbxd_proc *p = key[0] ? sbxd_proc_find_keyed(box, key) : NULL;
    if (p || (key[0] && sbxd_writer_find(box->killed_keys, key))) {
        sbxd_start_req_free(&req);
        if (p) return start_again(wsi, c, p);
        return reply_fail(wsi, 409, SBX_ERR_CONFLICT, "a kill by this start's key came first: nothing was started");
    }
    p = sbxd_proc_start(box, &req, &err);
    sbxd_start_req_free(&req);
    if (!p) return sbxd_reply_error(wsi, &err);
    memcpy(p->start_key, key, sizeof key);
    return sbxd_sse_begin(wsi, c, p, 0, sbxd_accepts_frames(wsi)) == 0 ? 0 : -1;
}

/* POST /sandboxes/{id}/processes/signal?key=KEY: the signal to the process the start with
 * that key began, for a client that has not learnt its pid (a run cancelled before its
 * start event): {"killed": whether it was running}; false for a key no start had. A
 * SIGKILL may overtake its start (another connection): its key is noted, and that start
 * then starts nothing. */
static int signal_keyed(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c)
{
    int sig;
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    if (query_key(wsi, key, &err)) return sbxd_reply_error(wsi, &err);
    if (!key[0]) return reply_fail(wsi, 400, SBX_ERR_INVALID, "a signal by key needs ?key=KEY (the start's key)");
    if (sbxd_parse_signal(c->body, c->body_len, &sig, &err)) return sbxd_reply_error(wsi, &err);
    if (sbxd_sandbox_resume(box, &err)) return sbxd_reply_error(wsi, &err);
    struct sbxd_proc *p = sbxd_proc_find_keyed(box, key);
    if (!p && sig == SIGKILL && !sbxd_writer_own(&box->killed_keys, key, NULL))
        return reply_fail(wsi, 500, SBX_ERR_SANDBOX, "out of memory");
    return sbxd_reply(wsi, 200, json_pack("{s:b}", "killed", p && sbxd_proc_signal(p, sig)));
}

/* A process call's query (stdin, a signal by pid): its key (`writer=ID`) at most, "" without.
 * A call sent again with the key of one taken before does nothing more (docs/PROTOCOL.md
 * "stdin", "The process list and signals"). */
static int call_key(struct lws *wsi, char key[SBXD_WRITER_ID_MAX + 1], struct sbxd_err *err)
{
    struct sbxd_attach_req req;
    key[0] = '\0';
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) <= 0) return 0;
    if (sbxd_attach_query(wsi, &req, err)) return -1;
    if (req.has_offset || req.has_serial)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "this call takes only writer (its key) in its query");
    memcpy(key, req.writer, SBXD_WRITER_ID_MAX + 1);
    return 0;
}

/* POST /sandboxes/{id}/processes/{pid}/signal[?writer=KEY]: {"killed": whether it was
 * running}. A signal to a paused sandbox's process resumes the sandbox first. A process a
 * signal with a key reached notes the key: the same call sent again after a cut is
 * answered true again, and signals nothing (the pid may be another process's by then). */
static int signal_process(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid)
{
    int sig;
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    if (call_key(wsi, key, &err) || sbxd_parse_signal(c->body, c->body_len, &sig, &err))
        return sbxd_reply_error(wsi, &err);
    if (sbxd_sandbox_resume(box, &err)) return sbxd_reply_error(wsi, &err);
    struct sbxd_proc *p = sbxd_proc_find_attach(box, pid);
    if (p && key[0] && sbxd_writer_find(p->taken_calls, key))
        return sbxd_reply(wsi, 200, json_pack("{s:b}", "killed", 1));
    int killed = p && sbxd_proc_signal(p, sig);
    /* out of memory for the note: the answer is still the truth, a sending again says false */
    if (killed && key[0]) sbxd_writer_own(&p->taken_calls, key, NULL);
    return sbxd_reply(wsi, 200, json_pack("{s:b}", "killed", killed));
}

/* The process a stdin call is for: a paused sandbox is resumed first (as for any command
 * call); 404 for no process of this sandbox by that pid, 409 for one that has exited,
 * unless the call is a close whose key (`close_key`, "" for none) it took: that close was
 * done before the exit. */
static struct sbxd_proc *stdin_target(struct sbxd_sandbox *box, pid_t pid, const char *close_key,
                                      struct sbxd_err *err)
{
    if (sbxd_sandbox_resume(box, err)) return NULL;
    struct sbxd_proc *p = sbxd_proc_find_attach(box, pid);
    if (!p) {
        sbxd_fail(err, 404, SBX_ERR_NOT_FOUND, "no process %d in sandbox '%s'", (int)pid, box->id);
        return NULL;
    }
    if (!p->exited || (close_key[0] && sbxd_writer_find(p->taken_calls, close_key))) return p;
    sbxd_fail(err, 409, SBX_ERR_CONFLICT, "process %d has exited", (int)pid);
    return NULL;
}

/* Notes `key` (if any) as taken by process p: 500 when out of memory. */
static int note_key(struct sbxd_proc *p, const char *key, struct sbxd_err *err)
{
    if (!key[0] || sbxd_writer_own(&p->taken_calls, key, NULL)) return 0;
    return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
}

/* The body's bytes, queued unless its key was taken: they were, by the same call sent
 * before. Returns what sbxd_stdin_write_again does (0 for a write queued), or -1. */
static int queue_stdin(struct sbxd_proc *p, struct sbxd_conn *c, const char *key, struct sbxd_later *l,
                       struct sbxd_err *err)
{
    if (key[0] && sbxd_writer_find(p->taken_calls, key))
        return sbxd_stdin_write_again(&p->in, c->body_len, &l->waiter, err);
    if (note_key(p, key, err)) return -1;
    if (sbxd_stdin_write(&p->in, c->body, c->body_len, &l->waiter, err)) {
        if (key[0]) sbxd_writer_drop(p->taken_calls, key);
        return -1;
    }
    c->body = NULL; /* the write has it */
    return SBXD_STDIN_AGAIN_WAITS;
}

/* POST /sandboxes/{id}/processes/{pid}/stdin: the body's bytes, as they are, into the
 * process's stdin; answered {"written": N} once they are all in the pipe. */
static int write_stdin(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid)
{
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    if (call_key(wsi, key, &err)) return sbxd_reply_error(wsi, &err);
    struct sbxd_proc *p = stdin_target(box, pid, "", &err);
    if (!p) return sbxd_reply_error(wsi, &err);
    struct sbxd_later *l = sbxd_later_new(wsi);
    if (!l) return reply_fail(wsi, 500, SBX_ERR_SANDBOX, "out of memory");
    int queued = queue_stdin(p, c, key, l, &err);
    if (queued == SBXD_STDIN_AGAIN_WAITS) return sbxd_later_wait(l, c);
    sbxd_later_drop(l);
    if (queued < 0) return sbxd_reply_error(wsi, &err);
    return sbxd_reply(wsi, 200, json_pack("{s:I}", "written", (json_int_t)c->body_len));
}

/* DELETE /sandboxes/{id}/processes/{pid}/stdin: {"closed": true} once the writes before
 * it are in the pipe and it is closed; {"closed": false} when it was closed already; a
 * close sent again (its key taken) {"closed": true} at once. */
static int close_stdin(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid)
{
    struct sbxd_err err;
    char key[SBXD_WRITER_ID_MAX + 1];
    if (call_key(wsi, key, &err)) return sbxd_reply_error(wsi, &err);
    struct sbxd_proc *p = stdin_target(box, pid, key, &err);
    if (!p) return sbxd_reply_error(wsi, &err);
    if (key[0] && sbxd_writer_find(p->taken_calls, key)) return sbxd_reply(wsi, 200, json_pack("{s:b}", "closed", 1));
    struct sbxd_later *l = sbxd_later_new(wsi);
    if (!l) return reply_fail(wsi, 500, SBX_ERR_SANDBOX, "out of memory");
    int found = note_key(p, key, &err) ? -1 : sbxd_stdin_close(&p->in, &l->waiter, &err);
    if (found == SBXD_STDIN_CLOSE_WAITS) return sbxd_later_wait(l, c);
    if (key[0] && found != SBXD_STDIN_CLOSED) sbxd_writer_drop(p->taken_calls, key);
    sbxd_later_drop(l);
    if (found < 0) return sbxd_reply_error(wsi, &err);
    return sbxd_reply(wsi, 200, json_pack("{s:b}", "closed", found == SBXD_STDIN_CLOSED));
}

typedef int (*process_handler)(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid);

/* The routes under /sandboxes/{id}/processes/{pid}/: an action and a method each. */
static const struct {
    const char *action;
    enum sbxd_method method;
    process_handler handle;
} PROCESS_ROUTES[] = {
    {"signal", SBXD_POST, signal_process},
    {"stdin", SBXD_POST, write_stdin},
    {"stdin", SBXD_DELETE, close_stdin},
    {"events", SBXD_GET, sbxd_attach},
};
#define N_PROCESS_ROUTES (sizeof PROCESS_ROUTES / sizeof *PROCESS_ROUTES)

/* The kernel gives no pid above this (PID_MAX_LIMIT on 64-bit). */
#define SBXD_PID_LIMIT 4194304L

/* "/processes/{pid}/{action}": the pid and where the action begins in `rest`; 0 when the
 * rest is not of that shape. A pid of more digits than a long holds is LONG_MAX: past any
 * the kernel gives, as it is. */
static long process_path(const char *rest, const char **action)
{
    const char *prefix = "/processes/", *digits = rest + strlen(prefix);
    if (strncmp(rest, prefix, strlen(prefix)) != 0 || !isdigit((unsigned char)*digits)) return 0;
    char *end;
    long pid = strtol(digits, &end, 10);
    if (*end != '/' || !end[1] || strchr(end + 1, '/') || pid <= 0) return 0;
    *action = end + 1;
    return pid;
}

/* Whether `action` names a route under a process, of any method. */
static int known_action(const char *action)
{
    for (size_t i = 0; i < N_PROCESS_ROUTES; i++)
        if (!strcmp(PROCESS_ROUTES[i].action, action)) return 1;
    return 0;
}

/* The handler of `action` for the request's method; NULL when it has none (405). */
static process_handler process_handler_for(const char *action, enum sbxd_method method)
{
    for (size_t i = 0; i < N_PROCESS_ROUTES; i++)
        if (!strcmp(PROCESS_ROUTES[i].action, action) && PROCESS_ROUTES[i].method == method)
            return PROCESS_ROUTES[i].handle;
    return NULL;
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

/* A process call for a pid past any the kernel gives: no process has it, so a signal
 * reached nothing ({"killed": false}, as for any pid not running) and the rest are 404. */
static int beyond_any_pid(struct lws *wsi, struct sbxd_sandbox *box, process_handler handle, const char *rest)
{
    if (handle == signal_process) return sbxd_reply(wsi, 200, json_pack("{s:b}", "killed", 0));
    const char *digits = rest + strlen("/processes/");
    struct sbxd_err err;
    sbxd_fail(&err, 404, SBX_ERR_NOT_FOUND, "no process %.*s in sandbox '%s'", (int)strspn(digits, "0123456789"),
              digits, box->id);
    return sbxd_reply_error(wsi, &err);
}

static int route_sandbox(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c,
                         const char *id, const char *rest)
{
    const char *action = NULL;
    long pid = process_path(rest, &action);
    int known = !strcmp(rest, "") || !strcmp(rest, "/timeout") || !strcmp(rest, "/processes") ||
                !strcmp(rest, "/processes/signal") || !strcmp(rest, "/pause") || !strcmp(rest, "/resume") ||
                (pid > 0 && known_action(action));
    if (!known) return no_route(wsi, c);
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
    if (!strcmp(rest, "/processes/signal") && c->method == SBXD_POST) return signal_keyed(wsi, box, c);
    if (!strcmp(rest, "/processes") && c->method == SBXD_GET)
        return sbxd_reply(wsi, 200, json_pack("{s:o}", "processes", sbxd_proc_list(box)));
    process_handler handle = pid > 0 ? process_handler_for(action, c->method) : NULL;
    if (handle && pid > SBXD_PID_LIMIT) return beyond_any_pid(wsi, box, handle, rest);
    if (handle) return handle(wsi, box, c, (pid_t)pid);
    return reply_fail(wsi, 405, SBX_ERR_INVALID, "method not allowed");
}

int sbxd_route_ws(const char *path, char *id, size_t idlen, pid_t *pid)
{
    const char *rest, *action;
    if (split_sandbox_path(path, id, idlen, &rest) != 0) return 0;
    if (!strcmp(rest, "/processes/ws")) return *pid = 0, 1;
    long p = process_path(rest, &action);
    if (p <= 0 || p > SBXD_PID_LIMIT || strcmp(action, "ws") != 0) return 0;
    *pid = (pid_t)p;
    return 1;
}

int sbxd_route_raw_body(const char *path)
{
    char id[64];
    const char *rest, *action;
    return split_sandbox_path(path, id, sizeof id, &rest) == 0 && process_path(rest, &action) > 0 &&
           !strcmp(action, "stdin");
}

/* 200 while sbxd can make sandboxes; 503 saying why when it cannot (bwrap missing, the
 * kernel refusing namespaces: learnt once, at start), so that a proxy or an orchestrator
 * sends creates elsewhere. */
static int health(struct lws *wsi, const struct sbxd_server *srv)
{
    if (srv->isolation && srv->no_isolation) return reply_fail(wsi, 503, SBX_ERR_SANDBOX, srv->no_isolation);
    return sbxd_reply(wsi, 200, json_pack("{s:b}", "ok", 1));
}

int sbxd_route(struct lws *wsi, struct sbxd_server *srv, struct sbxd_conn *c)
{
    if (!c->authorized) return reply_fail(wsi, 401, SBX_ERR_AUTH, "missing or wrong API key");
    if (c->too_big) return reply_fail(wsi, 413, SBX_ERR_INVALID, "request body over the limit");
    if (c->path_too_long) return reply_fail(wsi, 404, SBX_ERR_NOT_FOUND, "no such route");
    if (!strcmp(c->path, "/health")) {
        if (c->method == SBXD_GET || c->method == SBXD_HEAD) return health(wsi, srv);
        return reply_fail(wsi, 405, SBX_ERR_INVALID, "method not allowed");
    }
    if (!strcmp(c->path, "/sandboxes")) {
        if (c->method == SBXD_GET) return list_sandboxes(wsi, srv);
        if (c->method == SBXD_POST) return create_sandbox(wsi, srv, c);
        return reply_fail(wsi, 405, SBX_ERR_INVALID, "method not allowed");
    }
    char id[64];
    const char *rest;
    pid_t pid;
    if (sbxd_route_ws(c->path, id, sizeof id, &pid))
        return reply_fail(wsi, 400, SBX_ERR_INVALID,
                          "this route is a WebSocket: a GET with Upgrade: websocket and subprotocol " SBX_WS_PROTOCOL);
    if (split_sandbox_path(c->path, id, sizeof id, &rest) == 0)
        return route_sandbox(wsi, srv, c, id, rest);
    return no_route(wsi, c);
}
