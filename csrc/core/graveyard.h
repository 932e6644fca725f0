/* Large buffers whose freeing waits for the start of a later step, one a step: giving a
 * megabyte back to the system costs about as much as copying it, and the step that copied
 * it into a Lua string should not pay both; a burst of finished commands spreads over
 * steps. */
#ifndef SBX_GRAVEYARD_H
#define SBX_GRAVEYARD_H
#include "buf.h"
#include "list.h"

struct sbx_graveyard {
    struct sbx_list graves;   /* the last buried first */
};

void sbx_graveyard_init(struct sbx_graveyard *G);

/* Takes over b's allocation (b is left empty): freed now when small, else later. */
void sbx_graveyard_bury(struct sbx_graveyard *G, struct sbx_buf *b);
/* Frees the buffer buried last; nothing when none. */
void sbx_graveyard_free_one(struct sbx_graveyard *G);
void sbx_graveyard_free_all(struct sbx_graveyard *G);

#endif
