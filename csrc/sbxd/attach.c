/* GET /sandboxes/{id}/processes/{pid}/events: a stream of a process's output from an
 * offset of its log (the query's, or Last-Event-ID's), then live, then its end. */
#include <inttypes.h>
#include <string.h>
#include "attach_req.h"
#include "http.h"
#include "protocol.h"

#define LAST_EVENT_ID "last-event-id:" /* as lws stores a header it does not know */

int sbxd_attach_query(struct lws *wsi, struct sbxd_attach_req *req, struct sbxd_err *err)
{
    static char frag[SBXD_URI_MAX + 2];
    sbxd_attach_init(req);
    int n;
    for (int i = 0; (n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i)) > 0; i++)
        if (sbxd_attach_param(req, frag, (size_t)n, err)) return -1;
    if (lws_hdr_custom_length(wsi, LAST_EVENT_ID, (int)strlen(LAST_EVENT_ID)) < 0) return 0;
    n = lws_hdr_custom_copy(wsi, frag, sizeof frag, LAST_EVENT_ID, (int)strlen(LAST_EVENT_ID));
    return sbxd_attach_last_event_id(req, frag, n > 0 ? (size_t)n : 0, err);
}

int sbxd_accepts_frames(struct lws *wsi)
{
    char accept[SBXD_FIELD_MAX + 2];
    int n = lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT);
    return n > 0 && sbxd_wants_frames(accept, (size_t)n);
}

struct sbxd_proc *sbxd_attach_find(struct lws *wsi, struct sbxd_sandbox *box, pid_t pid,
                                   struct sbxd_attach_req *req, struct sbxd_err *err)
{
    if (sbxd_attach_query(wsi, req, err)) return NULL;
    struct sbxd_proc *p = sbxd_proc_find_attach(box, pid);
    if (!p || (req->has_serial && req->serial != p->serial)) {
        sbxd_fail(err, 404, SBX_ERR_NOT_FOUND, "no process %d%s in sandbox '%s'", (int)pid,
                  p ? " of that serial" : "", box->id);
        return NULL;
    }
    if (req->offset > p->log.end) {
        sbxd_fail(err, 400, SBX_ERR_INVALID, "offset %" PRIu64 " is past the end of the output (%" PRIu64 ")",
                  req->offset, p->log.end);
        return NULL;
    }
    if (sbxd_sandbox_resume(box, err)) return NULL;
    return p;
}

int sbxd_attach(struct lws *wsi, struct sbxd_sandbox *box, struct sbxd_conn *c, pid_t pid)
{
    struct sbxd_err err;
    struct sbxd_attach_req req;
    struct sbxd_proc *p = sbxd_attach_find(wsi, box, pid, &req, &err);
    if (p && req.writer[0]) {
        sbxd_fail(&err, 400, SBX_ERR_INVALID, "'writer' is for WebSocket sessions: an event stream takes no stdin");
        p = NULL;
    }
    if (!p) return sbxd_reply_error(wsi, &err);
    return sbxd_sse_begin(wsi, c, p, req.offset, sbxd_accepts_frames(wsi)) == 0 ? 0 : -1;
}
