/* The strings of a start: read from the sealed memfd sbxd sends and checked. */
#ifndef SBX_INIT_PAYLOAD_H
#define SBX_INIT_PAYLOAD_H
#include "initproto.h"

struct payload {
    char *bytes;            /* the memfd's contents; the pointers below point into it */
    const char *cwd;
    char **argv, **envp;    /* NULL-terminated */
};

/* 0, or an errno (EINVAL: the memfd does not hold what the start message says). */
int payload_read(int fd, const struct sbx_init_start *m, struct payload *p);
void payload_free(struct payload *p);

#endif
