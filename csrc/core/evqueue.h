/* The queue of events an operation collects inside library callbacks, for Lua to drain
 * after the loop step (C never calls Lua from inside curl or uv). */
#ifndef SBX_EVQUEUE_H
#define SBX_EVQUEUE_H
#include <stddef.h>
#include "buf.h"
#include "list.h"

enum sbx_ev_type { SBX_EV_HEAD, SBX_EV_EVENT, SBX_EV_DONE, SBX_EV_ERROR };

struct sbx_event {
    struct sbx_list link;   /* in its queue */
    enum sbx_ev_type type;
    long status;            /* HEAD, DONE: HTTP status */
    int code;               /* ERROR: curl code */
    int busy;               /* ERROR: the server's listen queue was full (try again) */
    char *name;             /* EVENT: type; HEAD: content type; ERROR: message */
    char *id;               /* EVENT: last event id, NULL when none */
    char *data;             /* EVENT data, DONE body (binary, malloc'd), or NULL when: */
    const struct sbx_buf *ref;  /* EVENT: the bytes lie in this buffer, at ref_off */
    size_t ref_off;
    size_t len;
    size_t taken;           /* EVENT: bytes handed over already (the oldest, in parts) */
};

/* The event's bytes (len of them). */
static inline const char *sbx_event_bytes(const struct sbx_event *ev)
{
    return ev->ref ? ev->ref->data + ev->ref_off : ev->data;
}

struct sbx_evqueue {
    struct sbx_list events;   /* oldest first */
    size_t count;
};

/* A new event with copies of the given strings (NULL stays NULL); NULL on OOM. */
struct sbx_event *sbx_event_new(enum sbx_ev_type type, const char *name, const char *id);
void sbx_event_free(struct sbx_event *ev);
void sbx_evqueue_init(struct sbx_evqueue *q);
void sbx_evqueue_push(struct sbx_evqueue *q, struct sbx_event *ev);
/* The oldest event, left in the queue; NULL when it is empty. */
struct sbx_event *sbx_evqueue_peek(const struct sbx_evqueue *q);
/* The oldest event, taken out of the queue; NULL when it is empty. */
struct sbx_event *sbx_evqueue_pop(struct sbx_evqueue *q);
void sbx_evqueue_clear(struct sbx_evqueue *q);

#endif
