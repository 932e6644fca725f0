/* Incremental Server-Sent Events parser (WHATWG "event stream interpretation").
 * Pure: no I/O. Feed it bytes as they arrive, split anywhere; it calls back once per
 * dispatched event with binary-safe data. */
#ifndef SBX_SSE_H
#define SBX_SSE_H
#include <stddef.h>
#include "buf.h"

/* Called per event. `id` is the last event id ("" when none was set). Return 0 to go
 * on, non-zero to stop parsing (sbx_sse_feed then returns -1). */
typedef int (*sbx_sse_event_fn)(void *ud, const char *type, const char *data, size_t len,
                                const char *id);

struct sbx_sse {
    sbx_sse_event_fn on_event;
    void *ud;
    size_t max_line;        /* a longer line or event is an error */
    struct sbx_buf line, data, type, last_id;
    long retry_ms;          /* -1 until a retry field is seen */
    unsigned bom_seen;      /* bytes of the UTF-8 BOM matched at stream start */
    int bom_done;
    int after_cr;           /* the last line ended in CR: a leading LF is its tail */
    int in_data;            /* the line so far is a data field, its value already in data */
    size_t streamed;        /* bytes of that line so far */
    int failed;
};

void sbx_sse_init(struct sbx_sse *p, sbx_sse_event_fn fn, void *ud, size_t max_line);
/* Returns 0, or -1 when a limit was hit, memory ran out, or the callback stopped it. */
int sbx_sse_feed(struct sbx_sse *p, const char *bytes, size_t n);
void sbx_sse_free(struct sbx_sse *p);

#endif
