#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boxfs.h"
#include "cgroup.h"
#include "isolate.h"
#include "protocol.h"
#include "isolation.h"

/* An executable named `name` in a directory of PATH, malloc'd; NULL when none. */
static char *find_on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char full[PATH_MAX];
        if (n > 0 && snprintf(full, sizeof full, "%.*s/%s", (int)n, path, name) < (int)sizeof full &&
            access(full, X_OK) == 0)
            return strdup(full);
        path += n + (path[n] == ':');
    }
    return NULL;
}

/* sbx-init in the directory of sbxd's own executable, malloc'd; NULL when none. */
static char *find_beside_self(const char *name)
{
    char self[PATH_MAX], full[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return NULL;
    *slash = '\0';
    if (snprintf(full, sizeof full, "%s/%s", self, name) >= (int)sizeof full || access(full, X_OK) != 0) return NULL;
    return strdup(full);
}

/* An absolute path to a program given by the user: bwrap and the init are exec'd by path. */
static char *given_program(const char *path)
{
    char full[PATH_MAX];
    if (access(path, X_OK) != 0 || !realpath(path, full)) return NULL;
    return strdup(full);
}

static void find_programs(struct sbxd_server *srv, const char *bwrap, const char *init)
{
    srv->bwrap = bwrap ? given_program(bwrap) : find_on_path("bwrap");
    srv->init = init ? given_program(init) : find_beside_self("sbx-init");
    if (!srv->bwrap)
        srv->no_isolation = bwrap ? "cannot isolate sandboxes: --bwrap is not an executable program"
                                  : "cannot isolate sandboxes: bubblewrap (bwrap) is not installed; install the "
                                    "bubblewrap package, or start sbxd with --isolation none";
    else if (!srv->init)
        srv->no_isolation = init ? "cannot isolate sandboxes: --init is not an executable program"
                                 : "cannot isolate sandboxes: sbx-init is not installed beside sbxd; reinstall "
                                   "sbx, or give its path with --init";
}

/* As root, a sandbox's bwrap runs as the sandbox's root, a host uid of its own that must
 * find its directories by their paths: the root lets others pass through it (each
 * sandbox's directory then lets in only its own), and so must every parent. */
static const char *open_root_to_sandboxes(struct sbxd_server *srv)
{
    if (geteuid() != 0) return NULL;
    if (chmod(srv->root, 0711) != 0)
        return "cannot isolate sandboxes: sbxd cannot let their users through its --root (chmod)";
    if (!sbxd_searchable_by_all(srv->root))
        return "cannot isolate sandboxes: their users cannot reach sbxd's --root; every directory "
               "above it must be searchable by others (chmod o+x)";
    return NULL;
}

/* The files every sandbox shares: without them, sandboxes are refused, saying why. */
static const char *prepare_files(struct sbxd_server *srv)
{
    static char failed[320];
    char why[256];
    if (sbxd_boxfs_init(srv->root, why, sizeof why) != 0) {
        snprintf(failed, sizeof failed, "cannot isolate sandboxes: %s", why);
        return failed;
    }
    char *copy = sbxd_boxfs_install_init(srv->root, srv->init);
    free((char *)srv->init);
    srv->init = copy;
    return copy ? NULL : "cannot isolate sandboxes: cannot copy sbx-init into sbxd's --root";
}

/* A name for sbxd's cgroups that a later sbxd on the same root finds again: a hash of the
 * root's path. */
static void cgroup_name(const char *root, char out[24])
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)root; *c; c++) h = (h ^ *c) * 1099511628211ULL;
    snprintf(out, 24, "%016llx", (unsigned long long)h);
}

/* The controllers sbxd can write, and what a previous sbxd on this root left in them. */
static void open_cgroups(struct sbxd_server *srv)
{
    static struct sbxd_cgroups cg;
    char name[24];
    cgroup_name(srv->root, name);
    sbxd_cgroups_open(&cg, name, srv->cgroup_delegated);
    srv->cgroups = &cg;
    if (cg.moved < 0)
        fprintf(stderr, "sbxd: cannot hand cgroup controllers down from its own group: %s\n",
                strerror(cg.delegate_errno));
    else if (cg.moved > 0 && !srv->quiet)
        fprintf(stderr, "sbxd: moved %d processes into the group sbxd-%s@daemon to hand cgroup controllers down\n",
                cg.moved, name);
    int removed = sbxd_cgroups_sweep(&cg);
    if (removed > 0 && !srv->quiet) fprintf(stderr, "sbxd: removed the cgroups of %d sandboxes a previous sbxd left\n", removed);
}

void sbxd_isolation_close(struct sbxd_server *srv)
{
    if (srv->cgroups) sbxd_cgroups_close(srv->cgroups);
    srv->cgroups = NULL;
}

/* One sbxd per root: each removes what it finds of another's at start. The lock lives as
 * long as sbxd (its descriptor is never closed) and goes with it, however it ends. */
static int lock_root(const char *root)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.lock", root) >= (int)sizeof path) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fprintf(stderr, "sbxd: cannot lock %s: %s\n", root, strerror(errno)), -1;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    fprintf(stderr, "sbxd: another sbxd uses --root %s\n", root);
    close(fd);
    return -1;
}

/* A sandbox started and killed at once, waiting for its init: whether sandboxes can be
 * had here at all (bwrap runs, the kernel grants the namespaces), so that a create can
 * be answered at once and refused, saying why, when they cannot. */
static const char *probe(struct sbxd_server *srv)
{
    static char failed[320];
    int mapped = geteuid() == 0;
    char *dir = sbxd_boxfs_create(srv->root, SBX_ID_PREFIX "probe", mapped ? SBXD_UID_BASE : -1);
    if (!dir) return "cannot isolate sandboxes: cannot make a sandbox's directory under --root";
    struct sbxd_bwrap_conf c = {srv->bwrap, srv->init, srv->root, dir, 0, !mapped, srv->default_pids};
    struct sbxd_isolated iso;
    char why[256];
    int rc = sbxd_isolate_start(&c, NULL, NULL, &iso, why, sizeof why);
    if (rc == 0) {
        sbxd_isolate_kill(&iso);
        waitpid(iso.bwrap, NULL, 0);
        sbxd_isolate_wait_gone(iso.init, 2000);
        close(iso.init);
        close(iso.chan);
    }
    sbxd_remove_tree(dir);
    free(dir);
    if (rc == 0) return NULL;
    snprintf(failed, sizeof failed, "cannot isolate sandboxes: %s", why);
    return failed;
}

int sbxd_isolation_setup(struct sbxd_server *srv, const char *mode, const char *bwrap, const char *init)
{
    if (lock_root(srv->root) != 0) return -1;
    srv->isolation = !mode || strcmp(mode, "none") != 0;
    if (!srv->isolation && !srv->quiet)
        fprintf(stderr, "sbxd: warning: --isolation none: commands run on the host as sbxd's user, "
                        "unisolated\n");
    if (srv->isolation) find_programs(srv, bwrap, init);
    if (srv->isolation && !srv->no_isolation) srv->no_isolation = open_root_to_sandboxes(srv);
    if (srv->isolation && !srv->no_isolation) srv->no_isolation = prepare_files(srv);
    if (srv->isolation && !srv->no_isolation) srv->no_isolation = probe(srv);
    if (srv->no_isolation && !srv->quiet) fprintf(stderr, "sbxd: %s\n", srv->no_isolation);
    if (srv->isolation && !srv->no_isolation) open_cgroups(srv);
    int removed = sbxd_boxfs_sweep(srv->root);
    if (removed > 0 && !srv->quiet) fprintf(stderr, "sbxd: removed %d sandboxes a previous sbxd left\n", removed);
    return 0;
}
