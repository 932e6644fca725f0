/* Large buffers whose freeing waits for the start of a later step, one a step: giving a
 * megabyte back to the system costs about as much as copying it, and the step that copied
 * it into a Lua string should not pay both; a burst of finished commands spreads over
 * steps. */
#ifndef SBX_GRAVEYARD_H
#define SBX_GRAVEYARD_H
#include <stdint.h>
#include "buf.h"
#include "list.h"

/* The largest mapping buried is not freed but kept as the spare a command's collected
 * output grows into next (its pages cost no faults then); a spare nobody took for
 * SBX_SPARE_KEEP_NS is unmapped. */
#define SBX_SPARE_MIN     (1u * 1024u * 1024u)
#define SBX_SPARE_KEEP_NS (5ull * 1000000000ull)

struct sbx_graveyard {
    struct sbx_list graves;   /* the last buried first */
    struct sbx_spare spare;
    uint64_t spare_since;     /* the clock's reading when the spare was kept */
};

void sbx_graveyard_init(struct sbx_graveyard *G);

/* Takes over b's allocation (b is left empty): freed now when small, else later. */
void sbx_graveyard_bury(struct sbx_graveyard *G, struct sbx_buf *b);
/* Frees the buffer buried last (or keeps it as the spare); unmaps a spare kept since
 * before now_ns - SBX_SPARE_KEEP_NS. */
void sbx_graveyard_free_one(struct sbx_graveyard *G, uint64_t now_ns);
/* Frees every buried buffer (or keeps one as the spare), as sbx_graveyard_free_one. */
void sbx_graveyard_free_buried(struct sbx_graveyard *G, uint64_t now_ns);
/* Frees every buried buffer and the spare. */
void sbx_graveyard_free_all(struct sbx_graveyard *G);

#endif
