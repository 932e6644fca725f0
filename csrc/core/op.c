#include "op.h"
#include "cafile.h"
#include "reqcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sbx_op *op_of_node(struct sbx_sched_node *n)
{
    return sbx_list_entry(n, struct sbx_op, node);
}

static struct sbx_op *op_of_transfer(struct sbx_transfer *t)
{
    return sbx_list_entry(t, struct sbx_op, transfer);
}

/* --- curl's callbacks ---------------------------------------------------------------- */

/* The end of a header block: a final (non-1xx) response's head goes to the answer. */
static void on_headers_complete(struct sbx_op *op)
{
    long status = 0;
    char *content_type = NULL;
    curl_easy_getinfo(op->transfer.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200) return;
    curl_easy_getinfo(op->transfer.easy, CURLINFO_CONTENT_TYPE, &content_type);
    sbx_answer_head(&op->answer, status, content_type);
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    struct sbx_op *op = ud;
    op->last_rx = uv_hrtime();
    size_t len = size * n;
    if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) on_headers_complete(op);
    return op->answer.failure ? 0 : len;
}

/* A stream over the step's budget, or whose events Lua has not drained, pauses: curl
 * keeps the bytes and gives them again when it resumes. The budget counts the bytes
 * taken and what the output's buffer copied to grow meanwhile (up to twice as many,
 * into fresh pages: buf.h), which cost as much. */
static size_t on_body(char *bytes, size_t size, size_t n, void *ud)
{
    struct sbx_op *op = ud;
    struct sbx_sched *S = &op->client->sched;
    const struct sbx_bufsource *source = &op->client->output_source;
    op->last_rx = uv_hrtime();
    size_t len = size * n;
    if (!op->answer.streaming) return sbx_answer_body(&op->answer, bytes, len) == 0 ? len : 0;
    if (!sbx_sched_may_take(S, &op->node)) {
        sbx_sched_pause(S, &op->node);
        return CURL_WRITEFUNC_PAUSE;
    }
    op->received += len;
    size_t copied = source->copied;
    int rc = sbx_answer_body(&op->answer, bytes, len);
    sbx_sched_took(S, len + (source->copied - copied));
    return rc == 0 ? len : 0;
}

/* --- the request ----------------------------------------------------------------------- */

/* The request's header lines: the caller's, then what its body needs. No "Expect:
 * 100-continue" (a round trip) before a body of over 1 MB (curl's threshold: below it,
 * curl asks nothing and the header would be one more to send). */
static int make_headers(struct sbx_op *op, const struct sbx_request *req)
{
    const char **lines = malloc((req->nheaders + 2) * sizeof *lines);
    if (!lines) return -1;
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++) lines[n++] = req->headers[i];
    if (req->body && req->raw_body) lines[n++] = "Content-Type: application/octet-stream";
    else if (req->body) lines[n++] = "Content-Type: application/json";
    if (req->body && req->body_len > 1024 * 1024) lines[n++] = "Expect:";
    op->headers = sbx_headers_get(&op->client->headers, lines, n);
    free(lines);
    return op->headers ? 0 : -1;
}

/* Sets a string option; curl copies it, and refuses one longer than it accepts. */
static int set_string(CURL *e, CURLoption option, const char *what, const char *value,
                      struct sbx_start_error *err)
{
    CURLcode rc = curl_easy_setopt(e, option, value);
    if (rc == CURLE_OK) return 0;
    err->invalid = rc == CURLE_BAD_FUNCTION_ARGUMENT;
    if (err->invalid) snprintf(err->message, sizeof err->message, "the %s is too long for curl", what);
    else snprintf(err->message, sizeof err->message, "%s", curl_easy_strerror(rc));
    return -1;
}

/* A unix socket never goes through a proxy: curl need not read the proxy variables
 * (http_proxy, no_proxy, ...) of the environment on every request. Nor does it carry
 * TLS (its URL is http://localhost): the paths of CA certificates, which curl otherwise
 * copies into every handle and again into every connection, are not needed. */
static void no_proxy_nor_tls(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_PROXY_CAINFO, NULL);
    curl_easy_setopt(e, CURLOPT_PROXY_CAPATH, NULL);
}

/* curl's receive buffer: allocated whole when a transfer starts, held until it ends (curl
 * 7.88 can neither grow it nor shrink it meanwhile). An event stream lasts as long as its
 * command and mostly waits: at curl's default size its buffer would be most of what a
 * command in flight costs the client, so it has curl's smallest. A stream with much
 * output then takes a read, and a look at the socket, for every KiB: bulk output costs
 * the client about twice the CPU. So the first SBX_BULK_STREAMS streams in flight get a
 * bulk buffer (a client running a few commands at a time runs all of them with one),
 * and the rest the smallest: thousands of waiting commands cost a fraction of the
 * memory, plus those few buffers. One of the rest that takes SBX_OUTGROWN_AFTER bytes
 * says so (sbx_op_outgrown), and its stream attaches again, from where it is, asking for a
 * bulk buffer (sbx_request.bulk), which the count does not limit: a stream's buffer is
 * then a fraction of the output it holds. A JSON call is short: curl's default. */
#define SBX_STREAM_RECV_BUFFER 1024L
#define SBX_BULK_RECV_BUFFER   (32L * 1024L)
#define SBX_CALL_RECV_BUFFER   ((long)CURL_MAX_WRITE_SIZE)
#define SBX_OUTGROWN_AFTER     ((size_t)64 * 1024)

/* The receive buffer for a request; a stream takes a bulk one while one is free. */
static long receive_buffer(struct sbx_op *op, const struct sbx_request *req)
{
    if (!req->sse) return SBX_CALL_RECV_BUFFER;
    if (req->bulk) return SBX_BULK_RECV_BUFFER; /* not counted: its stream has much output */
    if (op->client->bulk_streams >= SBX_BULK_STREAMS) {
        op->small_buffer = 1;
        return SBX_STREAM_RECV_BUFFER;
    }
    op->client->bulk_streams++;
    op->bulk = 1;
    return SBX_BULK_RECV_BUFFER;
}

/* The transfer is over (or will never start): its bulk buffer, if it had one, is free. */
static void release_bulk(struct sbx_op *op)
{
    if (!op->bulk) return;
    op->bulk = 0;
    op->client->bulk_streams--;
}

/* An https URL trusts the CA certificates $SSL_CERT_FILE names, where it is set
 * (cafile.h); else curl's own default. */
static int set_ca_file(CURL *e, const struct sbx_request *req, struct sbx_start_error *err)
{
    const char *ca = strncmp(req->url, "https:", 6) == 0 ? sbx_ca_file_override() : NULL;
    return ca ? set_string(e, CURLOPT_CAINFO, "CA file", ca, err) : 0;
}

static int configure(struct sbx_op *op, const struct sbx_request *req, struct sbx_start_error *err)
{
    CURL *e = op->transfer.easy;
    if (set_string(e, CURLOPT_URL, "url", req->url, err) != 0 ||
        set_string(e, CURLOPT_CUSTOMREQUEST, "method", req->method, err) != 0 ||
        (req->unix_socket &&
         set_string(e, CURLOPT_UNIX_SOCKET_PATH, "unix socket path", req->unix_socket, err) != 0))
        return -1;
    if (strcmp(req->method, "GET") == 0) curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers->slist);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (req->fresh) curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    if (req->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (req->unix_socket) no_proxy_nor_tls(e);
    else if (set_ca_file(e, req, err) != 0) return -1;
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, receive_buffer(op, req));
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    return 0;
}

/* --- lifecycle ------------------------------------------------------------------------ */

/* Hands the transfer to curl, counting it against the step's quota. */
static CURLMcode attach(struct sbx_op *op)
{
    CURLMcode mc = sbx_multi_add(&op->client->multi, &op->transfer);
    if (mc == CURLM_OK) {
        op->added = 1;
        sbx_sched_started(&op->client->sched);
    }
    return mc;
}

/* The scheduler's call: a paused stream may go on (curl may pause it again at once). */
static void resume_paused(struct sbx_sched_node *n)
{
    curl_easy_pause(op_of_node(n)->transfer.easy, CURLPAUSE_CONT);
}

/* Takes the easy handle back from curl, and out of the scheduler's queues, for the pool
 * (`reuse`) or to be freed. A handle whose transfer failed is not reused: curl keeps its
 * last system error (CURLINFO_OS_ERRNO) across a reset, and a later connect that fails
 * without one would be reported with that stale reason. */
static void release_easy(struct sbx_op *op, int reuse)
{
    sbx_sched_unqueue(&op->client->sched, &op->node);
    release_bulk(op);
    if (!op->transfer.easy) return;
    if (op->added) sbx_multi_remove(&op->client->multi, &op->transfer);
    op->added = 0;
    if (reuse) sbx_easypool_put(&op->client->pool, op->transfer.easy);
    else curl_easy_cleanup(op->transfer.easy);
    op->transfer.easy = NULL;
}

/* The scheduler's call: a waiting request's turn came. */
static void start_waiting(struct sbx_sched_node *n)
{
    struct sbx_op *op = op_of_node(n);
    CURLMcode mc = attach(op);
    if (mc == CURLM_OK) return;
    op->done = 1;
    sbx_answer_error(&op->answer, curl_multi_strerror(mc), 0, 0);
    release_easy(op, 0); /* curl would not take it: not pooled */
    if (op->detached) sbx_op_destroy(op);
}

static const struct sbx_sched_class OP_CLASS = {.start = start_waiting, .resume = resume_paused};

/* Why the transfer failed, in words: curl's text for a failed connect names "localhost
 * port 80" when the socket is a unix one; the system's reason is what holds there, and
 * the client names the address itself. A connect that failed with no reason of the
 * system's is one curl took as in progress (EAGAIN) and found unconnected: a unix
 * socket whose listen queue is full. The request reached no server: *busy says it may
 * be sent again. */
static const char *failure_text(struct sbx_op *op, CURLcode result, int *busy)
{
    long os_errno = 0;
    *busy = 0;
    if (result == CURLE_COULDNT_CONNECT &&
        curl_easy_getinfo(op->transfer.easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK) {
        if (os_errno > 0) return strerror((int)os_errno);
        *busy = 1;
        return "its listen queue is full";
    }
    return op->errbuf[0] ? op->errbuf : curl_easy_strerror(result);
}

/* The multi's call: curl says the transfer ended with `result`. */
static void finish(struct sbx_transfer *t, CURLcode result)
{
    struct sbx_op *op = op_of_transfer(t);
    if (result == CURLE_OK && !op->answer.failure) {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        sbx_answer_done(&op->answer, status);
    } else {
        int busy;
        const char *why = failure_text(op, result, &busy);
        sbx_answer_error(&op->answer, why, (int)result, busy);
    }
    release_easy(op, result == CURLE_OK);
    op->done = 1;
    if (op->detached) sbx_op_destroy(op);
}

static void destroy_resource(struct sbx_resource *r)
{
    sbx_op_destroy(sbx_list_entry(r, struct sbx_op, resource));
}

/* A new op, linked into the client; its easy handle is not configured yet. */
static struct sbx_op *new_op(struct sbx_client *C, const struct sbx_request *req)
{
    struct sbx_op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->client = C;
    op->resource.destroy = destroy_resource;
    sbx_list_push_back(&C->resources, &op->resource.link);
    op->transfer.done = finish;
    op->node.cls = &OP_CLASS;
    op->last_rx = uv_hrtime();
    sbx_answer_init(&op->answer, &C->sched, &op->node, req->sse, req->collect, req->chunks);
    sbx_outdec_source(&op->answer.out, &C->output_source);
    op->transfer.easy = sbx_easypool_get(&C->pool);
    return op;
}

static struct sbx_op *no_memory(struct sbx_start_error *err)
{
    err->invalid = 0;
    snprintf(err->message, sizeof err->message, "out of memory");
    return NULL;
}

/* The output `from` collected (the bytes of its complete events) becomes op's, which
 * collects onto it: one buffer, made into one string at the end, however many requests
 * brought it. op has received nothing yet. 0, or -1 when out of memory (nothing moved). */
static int adopt_output(struct sbx_op *op, struct sbx_op *from)
{
    for (int ch = 0; ch < 2; ch++) {
        struct sbx_buf gone, *to = &op->answer.out.output[ch];
        if (sbx_outdec_detach(&from->answer.out, ch, &from->answer.events, &gone) != 0) return -1;
        sbx_buf_free(to);
        sbx_buf_move(&gone, to);
    }
    return 0;
}

/* A started op takes over the output of req->output_from, if any; NULL when out of memory
 * (op is destroyed then: its transfer had not brought anything yet). */
static struct sbx_op *started(struct sbx_op *op, const struct sbx_request *req,
                              struct sbx_start_error *err)
{
    if (req->output_from && adopt_output(op, req->output_from) != 0)
        return sbx_op_destroy(op), no_memory(err);
    return op;
}

struct sbx_op *sbx_op_start(struct sbx_client *C, const struct sbx_request *req,
                            struct sbx_start_error *err)
{
    struct sbx_op *op = new_op(C, req);
    if (!op) return no_memory(err);
    if (!op->transfer.easy || make_headers(op, req) != 0) return sbx_op_destroy(op), no_memory(err);
    if (configure(op, req, err) != 0) return sbx_op_destroy(op), NULL;
    if (!sbx_sched_can_start(&C->sched)) {
        sbx_sched_wait(&C->sched, &op->node);
        return started(op, req, err);
    }
    CURLMcode mc = attach(op);
    if (mc == CURLM_OK) return started(op, req, err);
    err->invalid = 0;
    snprintf(err->message, sizeof err->message, "curl refused the transfer: %s", curl_multi_strerror(mc));
    curl_easy_cleanup(op->transfer.easy); /* not pooled: curl would not take it */
    op->transfer.easy = NULL;
    sbx_op_destroy(op);
    return NULL;
}

int sbx_op_start_detached(struct sbx_client *C, struct sbx_reqcopy *rc)
{
    struct sbx_start_error err;
    rc->req.timeout_ms = SBX_DETACHED_TIMEOUT_MS;
    struct sbx_op *op = sbx_op_start(C, &rc->req, &err);
    if (!op) {
        sbx_reqcopy_free(rc);
        return -1;
    }
    op->own = rc;
    op->detached = 1;
    C->lingering++;
    op->answer.discard = 1; /* before any callback: they run in the loop's next run */
    return 0;
}

void sbx_op_kill_on_close(struct sbx_op *op, struct sbx_reqcopy *kill, int64_t pid)
{
    if (kill) sbx_reqcopy_hold(kill);
    sbx_reqcopy_free(op->kill);
    op->kill = kill;
    op->kill_pid = pid;
}

void sbx_op_close(struct sbx_op *op)
{
    struct sbx_reqcopy *kill = NULL;
    if (op->kill && !op->answer.ended) kill = sbx_reqcopy_for(op->kill, op->kill_pid);
    struct sbx_client *C = op->client;
    sbx_op_destroy(op);
    if (kill) sbx_op_start_detached(C, kill);
}

void sbx_op_cancel(struct sbx_op *op)
{
    release_easy(op, 1);
    op->done = 1;
}

void sbx_op_destroy(struct sbx_op *op)
{
    if (op->detached) op->client->lingering--;
    sbx_op_cancel(op);
    sbx_sched_forget(&op->client->sched, &op->node);
    sbx_list_remove(&op->resource.link);
    if (op->owner) *op->owner = NULL;
    sbx_answer_free(&op->answer);
    if (op->headers) sbx_headers_put(op->headers);
    sbx_reqcopy_free(op->kill);
    sbx_reqcopy_free(op->own);
    free(op);
}

/* --- what the binding reads ------------------------------------------------------------ */

struct sbx_event *sbx_op_peek(struct sbx_op *op)
{
    return sbx_answer_peek(&op->answer);
}

int sbx_op_take(struct sbx_op *op, struct sbx_event *ev, size_t n)
{
    return sbx_answer_take(&op->answer, ev, n);
}

size_t sbx_op_queued(const struct sbx_op *op)
{
    return op->answer.events.count;
}

/* What of a channel's collected output is copied when it becomes a string: all of it,
 * but for output collected in a block of the state's allocator, which becomes the string
 * where it is (buf.h). */
static size_t copied_at_end(const struct sbx_buf *b)
{
    return b->block ? 0 : b->len;
}

int sbx_op_outgrown(const struct sbx_op *op)
{
    return op->answer.streaming && !op->done && op->small_buffer &&
           op->received >= SBX_OUTGROWN_AFTER;
}

size_t sbx_op_backlog(const struct sbx_op *op)
{
    const struct sbx_buf *out = op->answer.out.output;
    return op->node.backlog + (op->done ? copied_at_end(&out[0]) + copied_at_end(&out[1]) : 0);
}

double sbx_op_idle(const struct sbx_op *op)
{
    return (double)(uv_hrtime() - op->last_rx) / 1e9;
}

const struct sbx_buf *sbx_op_output(const struct sbx_op *op, int channel, size_t *complete)
{
    *complete = sbx_outdec_complete(&op->answer.out, channel);
    return &op->answer.out.output[channel];
}

int64_t sbx_op_offset(const struct sbx_op *op)
{
    return op->answer.offset;
}

void sbx_op_chunks(struct sbx_op *op, int chunks)
{
    sbx_answer_chunks(&op->answer, chunks);
}

char *sbx_op_take_output_block(struct sbx_op *op, int channel, size_t *len, int *oom)
{
    *oom = 0;
    if (!op->answer.out.output[channel].block) return NULL;
    struct sbx_buf gone;
    if (sbx_outdec_detach(&op->answer.out, channel, &op->answer.events, &gone) != 0)
        return *oom = 1, NULL;
    char *block = sbx_buf_release_block(&gone, len);
    if (!block) *oom = 1, sbx_buf_free(&gone);
    return block;
}

int sbx_op_release_output(struct sbx_op *op, int channel)
{
    struct sbx_buf gone;
    if (sbx_outdec_detach(&op->answer.out, channel, &op->answer.events, &gone) != 0) return -1;
    sbx_graveyard_bury(&op->client->graveyard, &gone);
    return 0;
}
