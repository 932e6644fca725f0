/* The commands started and not yet reported exited: a small unordered table, grown as
 * needed. Only these get signals relayed and an EXITED; any other child is an orphan. */
#include <stdlib.h>
#include "init.h"

static pid_t *pids;
static size_t count, cap;

static long find(pid_t pid)
{
    for (size_t i = 0; i < count; i++)
        if (pids[i] == pid) return (long)i;
    return -1;
}

int children_add(pid_t pid)
{
    if (count == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        pid_t *grown = realloc(pids, ncap * sizeof *grown);
        if (!grown) return -1;
        pids = grown;
        cap = ncap;
    }
    pids[count++] = pid;
    return 0;
}

int children_has(pid_t pid)
{
    return find(pid) >= 0;
}

/* 1 when pid was in the table. */
int children_remove(pid_t pid)
{
    long i = find(pid);
    if (i < 0) return 0;
    pids[i] = pids[--count];
    return 1;
}

void children_free(void)
{
    free(pids);
    pids = NULL;
    count = cap = 0;
}
