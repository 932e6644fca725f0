/* A request whose strings it owns: what an operation keeps to start later (its kill
 * request), when the strings of whoever described it may be gone. A copy is shared by
 * counting: a template many operations hold (each with a pid of its own) costs them one
 * pointer each, not a copy each. */
#ifndef SBX_REQCOPY_H
#define SBX_REQCOPY_H
#include <stdint.h>
#include "op.h"

struct sbx_reqcopy {
    struct sbx_request req;   /* points into this copy's own memory */
    char **lines;             /* the header lines */
    char *body;
    char *url_tail;           /* a template's: what follows the pid in the url; or NULL */
    unsigned refs;
};

/* A copy of req's method, url, unix socket, headers and body (its stream options are
 * not kept: a copy is sent as a plain call), with one reference. url_tail (or NULL)
 * makes it a template for sbx_reqcopy_for. NULL when out of memory. */
struct sbx_reqcopy *sbx_reqcopy_new(const struct sbx_request *req, const char *url_tail);
/* A copy of its own of template t (one reference) whose url is t's url, the decimal pid
 * and t's tail. NULL when out of memory. */
struct sbx_reqcopy *sbx_reqcopy_for(const struct sbx_reqcopy *t, int64_t pid);
/* One more reference to rc; returns rc. */
struct sbx_reqcopy *sbx_reqcopy_hold(struct sbx_reqcopy *rc);
/* Drops one reference; the last frees the copy. NULL is ignored. */
void sbx_reqcopy_free(struct sbx_reqcopy *rc);

#endif
