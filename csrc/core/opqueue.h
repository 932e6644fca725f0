/* A FIFO of operations, linked through a node inside each operation, so that an
 * operation can sit in several queues at once (paused streams, requests waiting to
 * start) and leave any of them in O(1). */
#ifndef SBX_OPQUEUE_H
#define SBX_OPQUEUE_H
#include <stddef.h>

struct sbx_op;

struct sbx_qnode {
    struct sbx_qnode *prev, *next;
    struct sbx_op *op;
    int queued;
};

struct sbx_opqueue {
    struct sbx_qnode *head, *tail;
};

static inline void sbx_opqueue_push(struct sbx_opqueue *q, struct sbx_qnode *n, struct sbx_op *op)
{
    if (n->queued) return;
    n->op = op;
    n->queued = 1;
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail) q->tail->next = n;
    else q->head = n;
    q->tail = n;
}

static inline void sbx_opqueue_remove(struct sbx_opqueue *q, struct sbx_qnode *n)
{
    if (!n->queued) return;
    if (n->prev) n->prev->next = n->next;
    else q->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else q->tail = n->prev;
    n->queued = 0;
    n->prev = n->next = NULL;
}

/* The oldest operation, or NULL. */
static inline struct sbx_op *sbx_opqueue_first(const struct sbx_opqueue *q)
{
    return q->head ? q->head->op : NULL;
}

#endif
