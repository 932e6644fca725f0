/* A request whose strings it owns: what an operation keeps to start later (its kill
 * request), when the strings of whoever described it may be gone. */
#ifndef SBX_REQCOPY_H
#define SBX_REQCOPY_H
#include "op.h"

struct sbx_reqcopy {
    struct sbx_request req;   /* points into this copy's own memory */
    char **lines;             /* the header lines */
    char *body;
};

/* A copy of req's method, url, unix socket, headers and body (its stream options are
 * not kept: a copy is sent as a plain call). NULL when out of memory. */
struct sbx_reqcopy *sbx_reqcopy_new(const struct sbx_request *req);
void sbx_reqcopy_free(struct sbx_reqcopy *rc);

#endif
