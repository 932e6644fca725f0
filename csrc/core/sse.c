#include "sse.h"

#include <string.h>

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};

void sbx_sse_init(struct sbx_sse *p, sbx_sse_event_fn fn, void *ud, size_t max_line)
{
    memset(p, 0, sizeof *p);
    p->on_event = fn;
    p->ud = ud;
    p->max_line = max_line;
    p->retry_ms = -1;
}

void sbx_sse_set_sink(struct sbx_sse *p, sbx_sse_wants_fn wants, sbx_sse_data_fn sink)
{
    p->wants = wants;
    p->sink = sink;
}

void sbx_sse_free(struct sbx_sse *p)
{
    sbx_buf_free(&p->line);
    sbx_buf_free(&p->data);
    sbx_buf_free(&p->type);
    sbx_buf_free(&p->last_id);
}

/* The event's type so far. */
static const char *event_type(const struct sbx_sse *p)
{
    return p->type.len ? p->type.data : "message";
}

/* A blank line: dispatch when some data line was seen, then reset the event. */
static int dispatch(struct sbx_sse *p)
{
    int rc = 0;
    if (p->data_lines > 0) {
        const char *id = p->last_id.data ? p->last_id.data : "";
        if (p->sinking)
            rc = p->on_event(p->ud, event_type(p), NULL, p->sunk, id) ? -1 : 0;
        else /* the last data line's "\n" is not data */
            rc = p->on_event(p->ud, event_type(p), p->data.data, p->data.len - 1, id) ? -1 : 0;
    }
    sbx_buf_reset(&p->data);
    sbx_buf_reset(&p->type);
    p->data_lines = 0;
    p->sinking = 0;
    p->sunk = 0;
    return rc;
}

static int to_sink(struct sbx_sse *p, const char *v, size_t n)
{
    if (p->sunk + n > p->max_line) return -1;
    p->sunk += n;
    return p->sink(p->ud, v, n) ? -1 : 0;
}

/* A data line begins: the event's first one decides where its data goes; a later one
 * is separated from the one before by "\n", which the sink gets here (the buffer gets
 * it at the end of each line, and dispatch drops the last). */
static int begin_data_line(struct sbx_sse *p)
{
    if (p->data_lines++ == 0) {
        p->sinking = p->wants && p->wants(p->ud, event_type(p));
        return 0;
    }
    return p->sinking ? to_sink(p, "\n", 1) : 0;
}

/* A piece of a data line's value. */
static int add_data(struct sbx_sse *p, const char *v, size_t n)
{
    if (p->sinking) return to_sink(p, v, n);
    if (p->data.len + n > p->max_line) return -1;
    return sbx_buf_append(&p->data, v, n);
}

static int end_data_line(struct sbx_sse *p)
{
    return p->sinking ? 0 : sbx_buf_append(&p->data, "\n", 1);
}

static int set_field(struct sbx_sse *p, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (nlen == 4 && memcmp(name, "data", 4) == 0) {
        if (begin_data_line(p) || add_data(p, v, vlen) || end_data_line(p)) return -1;
    } else if (nlen == 5 && memcmp(name, "event", 5) == 0) {
        if (p->sinking) return -1; /* its data went out as the type it had */
        sbx_buf_reset(&p->type);
        return sbx_buf_append(&p->type, v, vlen);
    } else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        if (memchr(v, '\0', vlen)) return 0; /* ignored, as the standard says */
        sbx_buf_reset(&p->last_id);
        return sbx_buf_append(&p->last_id, v, vlen);
    } else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
        long ms = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9' || ms > 100000000L) return 0;
            ms = ms * 10 + (v[i] - '0');
        }
        if (vlen) p->retry_ms = ms;
    }
    return 0; /* unknown fields are ignored */
}

static int process_line(struct sbx_sse *p, const char *s, size_t n)
{
    if (n == 0) return dispatch(p);
    if (s[0] == ':') return 0; /* comment */
    const char *colon = memchr(s, ':', n);
    if (!colon) return set_field(p, s, n, "", 0);
    size_t nlen = (size_t)(colon - s);
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    if (vlen && *v == ' ') v++, vlen--;
    return set_field(p, s, nlen, v, vlen);
}

/* Consumes a UTF-8 BOM at stream start; bytes of a partial match that turns out not
 * to be one are given back as line content. Returns how many input bytes it used. */
static size_t skip_bom(struct sbx_sse *p, const char *bytes, size_t n)
{
    size_t used = 0;
    while (!p->bom_done && used < n) {
        if ((unsigned char)bytes[used] == BOM[p->bom_seen]) {
            used++;
            if (++p->bom_seen == 3) p->bom_done = 1;
        } else {
            p->bom_done = 1;
            if (sbx_buf_append(&p->line, BOM, p->bom_seen)) p->failed = 1;
        }
    }
    return used;
}

static int end_line(struct sbx_sse *p)
{
    int rc = process_line(p, p->line.data ? p->line.data : "", p->line.len);
    sbx_buf_reset(&p->line);
    return rc;
}

/* Where the first CR or LF of s[0..n) is, or n: memchr scans a long data line (the base64
 * of a 48 KiB output chunk) many bytes at a time. */
static size_t line_length(const char *s, size_t n)
{
    const char *lf = memchr(s, '\n', n);
    size_t m = lf ? (size_t)(lf - s) : n;
    const char *cr = memchr(s, '\r', m);
    return cr ? (size_t)(cr - s) : m;
}

/* A line that ended in this feed: when none of it came in an earlier feed, it is
 * processed where it lies, without a copy. */
static int complete_line(struct sbx_sse *p, const char *s, size_t n)
{
    if (p->line.len == 0) return process_line(p, s, n);
    if (sbx_buf_append(&p->line, s, n)) return -1;
    return end_line(p);
}

/* A data line that goes on in the next feed: once its value has begun, the value goes
 * straight into the event's data, not into the line buffer first (a second copy of up
 * to 64 KiB per stream). Returns -1 when out of memory. */
static int start_data(struct sbx_sse *p)
{
    if (p->line.len <= 5 || memcmp(p->line.data, "data:", 5) != 0) return 0;
    const char *v = p->line.data + 5;
    size_t vlen = p->line.len - 5;
    if (*v == ' ') v++, vlen--;
    if (begin_data_line(p) || add_data(p, v, vlen)) return -1;
    p->streamed = p->line.len;
    p->in_data = 1;
    sbx_buf_reset(&p->line);
    return 0;
}

/* More of a data line's value; `last` when the line ends here. */
static int more_data(struct sbx_sse *p, const char *s, size_t n, int last)
{
    if (add_data(p, s, n)) return -1;
    p->streamed += n;
    if (!last) return 0;
    p->in_data = 0;
    p->streamed = 0;
    return end_data_line(p);
}

/* A segment of a line that goes on in the next feed. */
static int partial_line(struct sbx_sse *p, const char *s, size_t n)
{
    if (p->in_data) return more_data(p, s, n, 0);
    if (sbx_buf_append(&p->line, s, n)) return -1;
    return start_data(p);
}

static int parse(struct sbx_sse *p, const char *bytes, size_t n)
{
    if (p->failed) return -1;
    size_t i = skip_bom(p, bytes, n);
    while (i < n && !p->failed) {
        if (p->after_cr && bytes[i] == '\n') i++;  /* the LF of a CRLF split across feeds */
        p->after_cr = 0;
        if (i >= n) break;
        size_t start = i, len = line_length(bytes + i, n - i);
        i += len;
        size_t so_far = p->in_data ? p->streamed : p->line.len;
        int rc;
        if (so_far + len > p->max_line) {
            rc = -1;
        } else if (i == n) { /* the line continues in the next feed */
            rc = partial_line(p, bytes + start, len);
        } else {
            p->after_cr = bytes[i] == '\r';
            i++;
            rc = p->in_data ? more_data(p, bytes + start, len, 1) : complete_line(p, bytes + start, len);
        }
        if (rc != 0) p->failed = 1;
    }
    return p->failed ? -1 : 0;
}

/* Between feeds a stream mostly waits (a command in flight is mostly idle): the buffers
 * of a line or an event that is not under way hold nothing, and go. The last event id
 * stays: it outlives events. */
static void release_idle(struct sbx_sse *p)
{
    if (p->line.len == 0) sbx_buf_free(&p->line);
    if (p->data_lines == 0 && p->type.len == 0) {
        sbx_buf_free(&p->data);
        sbx_buf_free(&p->type);
    }
}

int sbx_sse_feed(struct sbx_sse *p, const char *bytes, size_t n)
{
    int rc = parse(p, bytes, n);
    release_idle(p);
    return rc;
}
