/* See cgroup_delegate.h. Plain libc, synchronous, at sbxd start only. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include "cgroup_delegate.h"
#include "cgroup_fs.h"

/* Enables in own/cgroup.subtree_control each name own has and does not enable yet. */
static int enable(const char *own, const char *const names[], int n)
{
    for (int i = 0; i < n; i++) {
        if (!sbxd_cgfs_has_word(own, "cgroup.controllers", names[i])) continue;
        if (sbxd_cgfs_has_word(own, "cgroup.subtree_control", names[i])) continue;
        char value[64];
        snprintf(value, sizeof value, "+%s", names[i]);
        if (sbxd_cgfs_write(own, "cgroup.subtree_control", value) < 0) return -1;
    }
    return 0;
}

/* Moves each process listed in from/cgroup.procs into to; a process that exited on the
 * way (ESRCH) is passed over. Returns how many moved, or -1. */
static int move_procs(const char *from, const char *to)
{
    char path[PATH_MAX];
    if (sbxd_cgfs_path(path, sizeof path, from, "cgroup.procs") < 0) return -1;
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int pid, moved = 0, rc = 0;
    while (rc == 0 && fscanf(f, "%d", &pid) == 1) {
        char value[24];
        snprintf(value, sizeof value, "%d", pid);
        if (sbxd_cgfs_write(to, "cgroup.procs", value) == 0)
            moved++;
        else if (errno != ESRCH)
            rc = -1;
    }
    fclose(f);
    return rc < 0 ? -1 : moved;
}

int sbxd_cg_delegate(const char *own, const char *leaf, const char *const names[], int n)
{
    if (enable(own, names, n) == 0) return 0;
    if (errno != EBUSY) return -1;
    char dir[PATH_MAX];
    if (sbxd_cgfs_path(dir, sizeof dir, own, leaf) < 0) return -1;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -1;
    /* A process forked while the list was read may have been born in `own`: read it
     * again until a pass moves nothing, a bounded number of times. */
    int total = 0;
    for (int pass = 0; pass < 8; pass++) {
        int moved = move_procs(own, dir);
        if (moved < 0) return -1;
        if (moved == 0) break;
        total += moved;
    }
    return enable(own, names, n) == 0 ? total : -1;
}
