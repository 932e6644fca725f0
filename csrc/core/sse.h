/* Incremental Server-Sent Events parser (WHATWG "event stream interpretation").
 * Pure: no I/O. Feed it bytes as they arrive, split anywhere; it calls back once per
 * dispatched event with binary-safe data. */
#ifndef SBX_SSE_H
#define SBX_SSE_H
#include <stddef.h>
#include "buf.h"

/* Called per event. `id` is the last event id ("" when none was set). Return 0 to go
 * on, non-zero to stop parsing (sbx_sse_feed then returns -1). `data` is NULL when the
 * event's data went to the sink (len is then how many bytes it got). */
typedef int (*sbx_sse_event_fn)(void *ud, const char *type, const char *data, size_t len,
                                const char *id);
/* The optional sink, for events whose data is large and consumed as it arrives: asked
 * at an event's first data line whether it takes the data of an event of this type (the
 * type set so far); if so, every piece of the data goes to it as it is parsed, the bytes
 * the event would have had ("\n" between data lines), and the parser keeps none. Such
 * an event must not change its type after its data began (that fails the parse). */
typedef int (*sbx_sse_wants_fn)(void *ud, const char *type);
typedef int (*sbx_sse_data_fn)(void *ud, const char *bytes, size_t n); /* non-zero: stop */

struct sbx_sse {
    sbx_sse_event_fn on_event;
    sbx_sse_wants_fn wants;  /* the sink, or NULL */
    sbx_sse_data_fn sink;
    void *ud;
    size_t max_line;        /* a longer line or event is an error */
    struct sbx_buf line, data, type, last_id;
    long retry_ms;          /* -1 until a retry field is seen */
    unsigned bom_seen;      /* bytes of the UTF-8 BOM matched at stream start */
    int bom_done;
    int after_cr;           /* the last line ended in CR: a leading LF is its tail */
    int in_data;            /* the line so far is a data field, its value already in data */
    size_t streamed;        /* bytes of that line so far */
    size_t data_lines;      /* data lines of the event so far */
    int sinking;            /* the event's data goes to the sink */
    size_t sunk;            /* bytes of the event given to the sink */
    int failed;
};

void sbx_sse_init(struct sbx_sse *p, sbx_sse_event_fn fn, void *ud, size_t max_line);
void sbx_sse_set_sink(struct sbx_sse *p, sbx_sse_wants_fn wants, sbx_sse_data_fn sink);
/* Returns 0, or -1 when a limit was hit, memory ran out, or the callback stopped it. */
int sbx_sse_feed(struct sbx_sse *p, const char *bytes, size_t n);
void sbx_sse_free(struct sbx_sse *p);

#endif
