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

/* Whether a buried buffer becomes the spare: a mapping, large, and no smaller than the
 * spare it would replace. */
static int worth_keeping(const struct sbx_graveyard *G, const struct sbx_buf *b)
{
    return b->mapped && b->cap >= SBX_SPARE_MIN && b->cap >= G->spare.cap;
}

static void free_grave(struct sbx_graveyard *G, struct sbx_list *link, uint64_t now_ns, int keep)
{
    sbx_list_remove(link);
    struct sbx_grave *g = sbx_list_entry(link, struct sbx_grave, link);
    if (keep && worth_keeping(G, &g->buf)) {
        sbx_spare_keep(&G->spare, &g->buf);
        G->spare_since = now_ns;
    } else {
        sbx_buf_free(&g->buf);
    }
    free(g);
}

void sbx_graveyard_free_one(struct sbx_graveyard *G, uint64_t now_ns)
{
    if (G->spare.data && now_ns - G->spare_since > SBX_SPARE_KEEP_NS) sbx_spare_drop(&G->spare);
    struct sbx_list *last = sbx_list_first(&G->graves);
    if (last) free_grave(G, last, now_ns, 1);
}

void sbx_graveyard_free_buried(struct sbx_graveyard *G, uint64_t now_ns)
{
    while (!sbx_list_empty(&G->graves)) sbx_graveyard_free_one(G, now_ns);
}

void sbx_graveyard_free_all(struct sbx_graveyard *G)
{
    struct sbx_list *last;
    while ((last = sbx_list_first(&G->graves))) free_grave(G, last, 0, 0);
    sbx_spare_drop(&G->spare);
}
