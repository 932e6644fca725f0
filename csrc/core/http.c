#include "http.h"
#include "base64.h"
#include "sockwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void push(struct sbx_op *op, struct sbx_event *ev)
{
    op->queued += ev->len;
    sbx_evqueue_push(&op->events, ev);
    sbx_loop_mark_ready(op->loop, op);
}

/* Remembers why a callback aborted the transfer: the error event says that, not curl. */
static void fail(struct sbx_op *op, const char *why)
{
    if (!op->failure) op->failure = strdup(why);
}

/* 0 for stdout, 1 for stderr, -1 for any other event. */
static int output_channel(const char *type)
{
    if (strcmp(type, "stdout") == 0) return 0;
    if (strcmp(type, "stderr") == 0) return 1;
    return -1;
}

static int bad_base64(struct sbx_op *op)
{
    fail(op, "invalid base64 in an output event");
    return -1;
}

/* Decodes base64 onto the end of b; 0, or -1 when it fails. */
static int decode_into(struct sbx_op *op, struct sbx_buf *b, const char *data, size_t len)
{
    if (sbx_buf_reserve(b, b64_decoded_max(len)) != 0) return fail(op, "out of memory"), -1;
    size_t n = b64_decode(data, len, (unsigned char *)b->data + b->len);
    if (n == (size_t)-1) return bad_base64(op);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int copy_data(struct sbx_op *op, struct sbx_event *ev, const char *data, size_t len)
{
    if (!(ev->data = malloc(len + 1))) return fail(op, "out of memory"), -1;
    memcpy(ev->data, data, len);
    ev->data[len] = '\0';
    ev->len = len;
    return 0;
}


/* An output event's bytes are decoded here, so that Lua gets raw bytes, and as they
 * arrive (the parser's sink), so that the parser holds no copy of their text: the base64
 * of a 48 KiB chunk is 64 KiB a stream otherwise. When collecting, they go straight to
 * the channel's buffer, so that the whole output is one buffer at the end, grown as it
 * arrived rather than built in one go; the event, if wanted, refers to its bytes there
 * (sbx_op_detach_output copies them out should the buffer go first). */
static int output_wanted(void *ud, const char *type)
{
    struct sbx_op *op = ud;
    struct sbx_out_event *o = &op->out;
    int channel = output_channel(type);
    if (channel < 0) return 0;
    o->into = op->collect ? &op->output[channel] : &o->own;
    o->at = o->into->len;
    o->ncarry = 0;
    o->ended = 0;
    return 1;
}

/* Whole groups of 4 characters; padding may only end the event's base64. */
static int decode_groups(struct sbx_op *op, const char *s, size_t n)
{
    struct sbx_out_event *o = &op->out;
    if (o->ended) return bad_base64(op);
    if (decode_into(op, o->into, s, n)) return -1;
    o->ended = s[n - 1] == '=';
    return 0;
}

static int output_data(void *ud, const char *s, size_t n)
{
    struct sbx_op *op = ud;
    struct sbx_out_event *o = &op->out;
    while (n > 0) {
        if (o->ncarry || n < 4) { /* a group split between pieces */
            size_t k = 4 - o->ncarry < n ? 4 - o->ncarry : n;
            memcpy(o->carry + o->ncarry, s, k);
            o->ncarry += k, s += k, n -= k;
            if (o->ncarry < 4) return 0;
            o->ncarry = 0;
            if (decode_groups(op, o->carry, 4)) return -1;
            continue;
        }
        size_t whole = n - n % 4;
        if (decode_groups(op, s, whole)) return -1;
        s += whole, n -= whole;
    }
    return 0;
}

/* The end of an output event whose data went through output_data. */
static int output_streamed(struct sbx_op *op, const char *type, const char *id)
{
    struct sbx_out_event *o = &op->out;
    if (o->ncarry) return bad_base64(op);
    if (!op->chunks) return sbx_buf_reset(&o->own), 0;
    struct sbx_event *ev = sbx_event_new(SBX_EV_EVENT, type, *id ? id : NULL);
    if (!ev) return fail(op, "out of memory"), -1;
    struct sbx_buf *b = o->into;
    if (b == &o->own) {
        ev->data = sbx_buf_take(b, &ev->len);
    } else if (o->head.len) { /* op:output took its first bytes: the event keeps a copy */
        if (sbx_buf_append(&o->head, b->data, b->len) == 0) ev->data = sbx_buf_take(&o->head, &ev->len);
    } else {
        ev->ref = b;
        ev->ref_off = o->at;
        ev->len = b->len - o->at;
    }
    if (!ev->ref && !ev->data) return sbx_event_free(ev), fail(op, "out of memory"), -1;
    push(op, ev);
    return 0;
}

static int on_sse_event(void *ud, const char *type, const char *data, size_t len, const char *id)
{
    struct sbx_op *op = ud;
    if (!data) return output_streamed(op, type, id);
    if (output_wanted(op, type)) /* one whose type came after its data: decoded whole */
        return output_data(op, data, len) ? -1 : output_streamed(op, type, id);
    struct sbx_event *ev = sbx_event_new(SBX_EV_EVENT, type, *id ? id : NULL);
    if (!ev) return fail(op, "out of memory"), -1;
    if (copy_data(op, ev, data, len) != 0) return sbx_event_free(ev), -1;
    push(op, ev);
    return 0;
}

/* The end of a header block: a final (non-1xx) response's head becomes an event. */
static void on_headers_complete(struct sbx_op *op)
{
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200) return;
    curl_easy_getinfo(op->easy, CURLINFO_CONTENT_TYPE, &ctype);
    op->headers_done = 1;
    op->sse_active = op->sse && status >= 200 && status <= 299 && ctype &&
                     strncasecmp(ctype, "text/event-stream", 17) == 0;
    struct sbx_event *ev = sbx_event_new(SBX_EV_HEAD, ctype ? ctype : "", NULL);
    if (!ev) return fail(op, "out of memory");
    ev->status = status;
    push(op, ev);
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    struct sbx_op *op = ud;
    op->last_rx = uv_hrtime();
    size_t len = size * n;
    if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) on_headers_complete(op);
    return op->failure ? 0 : len;
}

static void pause_op(struct sbx_op *op)
{
    struct sbx_loop *L = op->loop;
    sbx_opqueue_push(&L->paused, &op->paused, op);
    sbx_loop_wake(L); /* it resumes at the next step: this one must not block */
}

static void unlink_paused(struct sbx_op *op)
{
    sbx_opqueue_remove(&op->loop->paused, &op->paused);
}

void sbx_resume_paused(struct sbx_loop *L)
{
    const struct sbx_qnode *last = L->paused.tail; /* each paused stream gets one look at most */
    struct sbx_op *op;
    while ((op = sbx_opqueue_first(&L->paused)) && L->step_bytes < SBX_STEP_BUDGET) {
        int was_last = &op->paused == last;
        unlink_paused(op);
        if (op->queued >= SBX_QUEUE_MAX / 2) pause_op(op); /* Lua has not drained it yet */
        else curl_easy_pause(op->easy, CURLPAUSE_CONT);   /* may pause it again at once */
        if (was_last) break;
    }
}

int sbx_has_resumable(const struct sbx_loop *L)
{
    for (const struct sbx_qnode *n = L->paused.head; n; n = n->next)
        if (n->op->queued < SBX_QUEUE_MAX / 2) return 1;
    return 0;
}

static size_t on_body(char *bytes, size_t size, size_t n, void *ud)
{
    struct sbx_op *op = ud;
    op->last_rx = uv_hrtime();
    size_t len = size * n;
    struct sbx_loop *L = op->loop;
    if (op->sse_active && (L->step_bytes >= SBX_STEP_BUDGET || op->queued >= SBX_QUEUE_MAX)) {
        pause_op(op); /* curl keeps these bytes and gives them again on resume */
        return CURL_WRITEFUNC_PAUSE;
    }
    if (op->sse_active) {
        L->step_bytes += len;
        if (sbx_sse_feed(&op->parser, bytes, len) != 0)
            fail(op, "the event stream is malformed or over its limits");
    } else if (op->resp.len + len > SBX_MAX_BODY) {
        fail(op, "the response body is over the limit");
    } else if (sbx_buf_append(&op->resp, bytes, len) != 0) {
        fail(op, "out of memory");
    }
    return op->failure ? 0 : len;
}

static int configure(struct sbx_op *op, const struct sbx_request *req)
{
    CURL *e = op->easy;
    for (size_t i = 0; i < req->nheaders; i++) {
        struct curl_slist *h = curl_slist_append(op->headers, req->headers[i]);
        if (!h) return -1;
        op->headers = h;
    }
    /* No "Expect: 100-continue" (a round trip) before a body of over 1 MB (curl's
     * threshold: below it, curl asks nothing and the header would be one more to send). */
    const char *fixed[] = {"Content-Type: application/json", "Expect:"};
    size_t nfixed = !req->body ? 0 : req->body_len > 1024 * 1024 ? 2 : 1;
    for (size_t i = 0; i < nfixed; i++) {
        struct curl_slist *h = curl_slist_append(op->headers, fixed[i]);
        if (!h) return -1;
        op->headers = h;
    }
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (strcmp(req->method, "GET") == 0) curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (req->unix_socket) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, op->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* A unix socket never goes through a proxy: curl need not read the proxy variables
     * (http_proxy, no_proxy, ...) of the environment on every request. */
    if (req->unix_socket) curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, op);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, sbx_sockwatch_on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, op->loop);
    return 0;
}

static void link_op(struct sbx_loop *L, struct sbx_op *op)
{
    op->loop = L;
    op->next = L->ops;
    if (L->ops) L->ops->prev = op;
    L->ops = op;
}

/* Hands the op's transfer to curl, counting it against the step's quota. */
static CURLMcode attach(struct sbx_op *op)
{
    CURLMcode mc = curl_multi_add_handle(op->loop->multi, op->easy);
    if (mc == CURLM_OK) {
        op->added = 1;
        op->loop->fresh++;
    }
    return mc;
}

/* Hands a new request to curl; on failure the op is destroyed, with the reason in err.
 * Returns 0 on success. */
static int add_to_multi(struct sbx_op *op, char *err, size_t errlen)
{
    CURLMcode mc = attach(op);
    if (mc == CURLM_OK) return 0;
    snprintf(err, errlen, "%s", curl_multi_strerror(mc));
    curl_easy_cleanup(op->easy);
    op->easy = NULL;
    sbx_op_destroy(op);
    return -1;
}

void sbx_start_waiting(struct sbx_loop *L)
{
    struct sbx_op *op;
    while ((op = sbx_opqueue_first(&L->waiting)) && L->fresh < SBX_STARTS_PER_STEP) {
        sbx_opqueue_remove(&L->waiting, &op->waiting);
        CURLMcode mc = attach(op);
        if (mc == CURLM_OK) continue;
        struct sbx_event *ev = sbx_event_new(SBX_EV_ERROR, curl_multi_strerror(mc), NULL);
        op->done = 1;
        if (ev) push(op, ev);
    }
}

struct sbx_op *sbx_op_start(struct sbx_loop *L, const struct sbx_request *req,
                            char *err, size_t errlen)
{
    struct sbx_op *op = calloc(1, sizeof *op);
    if (!op) return snprintf(err, errlen, "out of memory"), NULL;
    link_op(L, op);
    op->sse = req->sse;
    op->last_rx = uv_hrtime();
    op->collect = req->collect;
    op->output[0].mappable = op->output[1].mappable = 1;
    op->chunks = req->chunks || !req->collect;
    sbx_sse_init(&op->parser, on_sse_event, op, SBX_MAX_EVENT);
    sbx_sse_set_sink(&op->parser, output_wanted, output_data);
    op->easy = L->nspare ? L->spare[--L->nspare] : curl_easy_init();
    if (req->body && (op->body = malloc(req->body_len + 1)))
        memcpy(op->body, req->body, req->body_len);
    if (!op->easy || (req->body && !op->body) || configure(op, req) != 0) {
        snprintf(err, errlen, "out of memory");
        sbx_op_destroy(op);
        return NULL;
    }
    if (L->fresh < SBX_STARTS_PER_STEP) return add_to_multi(op, err, errlen) ? NULL : op;
    sbx_opqueue_push(&L->waiting, &op->waiting, op);
    return op;
}

/* Takes the easy handle out of the multi; its connection stays in the multi's cache
 * when the transfer completed, and is closed when it was aborted. */
static void release_easy(struct sbx_op *op)
{
    sbx_opqueue_remove(&op->loop->waiting, &op->waiting);
    if (!op->easy) return;
    struct sbx_loop *L = op->loop;
    if (op->added) curl_multi_remove_handle(L->multi, op->easy);
    op->added = 0;
    if (L->nspare < (int)(sizeof L->spare / sizeof *L->spare)) {
        curl_easy_reset(op->easy);
        L->spare[L->nspare++] = op->easy;
    } else {
        curl_easy_cleanup(op->easy);
    }
    op->easy = NULL;
}

static struct sbx_event *finish_event(struct sbx_op *op, CURLcode result)
{
    if (result == CURLE_OK && !op->failure) {
        struct sbx_event *ev = sbx_event_new(SBX_EV_DONE, NULL, NULL);
        if (!ev) return NULL;
        curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &ev->status);
        ev->data = sbx_buf_take(&op->resp, &ev->len);
        return ev;
    }
    const char *msg = op->failure ? op->failure
                      : op->errbuf[0] ? op->errbuf : curl_easy_strerror(result);
    /* curl's text for a failed connect names "localhost port 80" when the socket is a unix
     * one: the system's reason is what holds, and the client names the address itself. */
    long os_errno = 0;
    if (result == CURLE_COULDNT_CONNECT && !op->failure &&
        curl_easy_getinfo(op->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0)
        msg = strerror((int)os_errno);
    struct sbx_event *ev = sbx_event_new(SBX_EV_ERROR, msg, NULL);
    if (ev) ev->code = (int)result;
    return ev;
}

void sbx_op_finish(struct sbx_op *op, CURLcode result)
{
    struct sbx_event *ev = finish_event(op, result);
    if (!ev) ev = sbx_event_new(SBX_EV_ERROR, "out of memory", NULL);
    unlink_paused(op);
    release_easy(op);
    op->done = 1;
    if (ev) push(op, ev);
}

struct sbx_event *sbx_op_pop(struct sbx_op *op)
{
    struct sbx_event *ev = sbx_evqueue_pop(&op->events);
    if (ev) op->queued -= ev->len;
    return ev;
}

int sbx_op_detach_output(struct sbx_op *op, int channel)
{
    const struct sbx_buf *b = &op->output[channel];
    for (struct sbx_event *ev = op->events.head; ev; ev = ev->next) {
        if (ev->ref != b) continue;
        if (!(ev->data = malloc(ev->len + 1))) return -1;
        memcpy(ev->data, b->data + ev->ref_off, ev->len);
        ev->data[ev->len] = '\0';
        ev->ref = NULL;
    }
    struct sbx_out_event *o = &op->out;
    if (op->chunks && op->parser.sinking && o->into == b && b->len > o->at) { /* half decoded */
        if (sbx_buf_append(&o->head, b->data + o->at, b->len - o->at) != 0) return -1;
        o->at = 0; /* its other bytes start the buffer that comes next */
    }
    return 0;
}

void sbx_op_cancel(struct sbx_op *op)
{
    unlink_paused(op);
    release_easy(op);
    op->done = 1;
}

void sbx_op_destroy(struct sbx_op *op)
{
    struct sbx_loop *L = op->loop;
    sbx_op_cancel(op);
    sbx_loop_unmark_ready(L, op);
    if (op->prev) op->prev->next = op->next;
    else L->ops = op->next;
    if (op->next) op->next->prev = op->prev;
    if (op->owner) *op->owner = NULL;
    sbx_evqueue_clear(&op->events);
    sbx_sse_free(&op->parser);
    sbx_buf_free(&op->resp);
    sbx_buf_free(&op->output[0]);
    sbx_buf_free(&op->output[1]);
    sbx_buf_free(&op->out.own);
    sbx_buf_free(&op->out.head);
    curl_slist_free_all(op->headers);
    free(op->body);
    free(op->failure);
    free(op);
}
