#include "evqueue.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s, int *failed)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *failed = 1;
    return d;
}

struct sbx_event *sbx_event_new(enum sbx_ev_type type, const char *name, const char *id)
{
    struct sbx_event *ev = calloc(1, sizeof *ev);
    if (!ev) return NULL;
    int failed = 0;
    ev->type = type;
    ev->name = dup_or_null(name, &failed);
    ev->id = dup_or_null(id, &failed);
    if (failed) {
        sbx_event_free(ev);
        return NULL;
    }
    return ev;
}

void sbx_event_free(struct sbx_event *ev)
{
    if (!ev) return;
    free(ev->name);
    free(ev->id);
    free(ev->data);
    free(ev);
}

void sbx_evqueue_init(struct sbx_evqueue *q)
{
    sbx_list_init(&q->events);
    q->count = 0;
}

void sbx_evqueue_push(struct sbx_evqueue *q, struct sbx_event *ev)
{
    sbx_list_push_back(&q->events, &ev->link);
    q->count++;
}

struct sbx_event *sbx_evqueue_peek(const struct sbx_evqueue *q)
{
    struct sbx_list *first = sbx_list_first(&q->events);
    return first ? sbx_list_entry(first, struct sbx_event, link) : NULL;
}

struct sbx_event *sbx_evqueue_pop(struct sbx_evqueue *q)
{
    struct sbx_list *first = sbx_list_first(&q->events);
    if (!first) return NULL;
    sbx_list_remove(first);
    q->count--;
    return sbx_list_entry(first, struct sbx_event, link);
}

void sbx_evqueue_clear(struct sbx_evqueue *q)
{
    struct sbx_event *ev;
    while ((ev = sbx_evqueue_pop(q))) sbx_event_free(ev);
}
