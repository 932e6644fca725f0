#include "graveyard.h"

#include <stdlib.h>

/* Below this, freeing at once costs less than keeping the buffer for later. */
#define FREE_LATER_MIN (256u * 1024u)

struct sbx_grave {
    struct sbx_list link;
    struct sbx_buf buf;
};

void sbx_graveyard_init(struct sbx_graveyard *G)
{
    sbx_list_init(&G->graves);
}

void sbx_graveyard_bury(struct sbx_graveyard *G, struct sbx_buf *b)
{
    struct sbx_grave *g = b->cap >= FREE_LATER_MIN ? malloc(sizeof *g) : NULL;
    if (!g) {
        sbx_buf_free(b);
        return;
    }
    sbx_buf_move(b, &g->buf);
    sbx_list_push_front(&G->graves, &g->link);
}

void sbx_graveyard_free_one(struct sbx_graveyard *G)
{
    struct sbx_list *last = sbx_list_first(&G->graves);
    if (!last) return;
    sbx_list_remove(last);
    struct sbx_grave *g = sbx_list_entry(last, struct sbx_grave, link);
    sbx_buf_free(&g->buf);
    free(g);
}

void sbx_graveyard_free_all(struct sbx_graveyard *G)
{
    while (!sbx_list_empty(&G->graves)) sbx_graveyard_free_one(G);
}
