/* One sandbox's groups: made with its limits, joined, frozen and thawed, read for OOM
 * kills, removed; and the sweep of a previous sbxd's leftovers (see cgroup.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cgroup.h"
#include "cgroup_fs.h"

/* The freeze is polled this often, this many times (about a second), for the kernel to
 * report the whole group frozen. */
#define FREEZE_TRIES 200
#define FREEZE_STEP_MS 5
/* cpu bandwidth: a quota per period of 100 ms (the kernel's default period); the kernel
 * takes no quota under 1 ms, so the smallest share is 0.01 cpus. */
#define CPU_PERIOD_US 100000
#define CPU_QUOTA_MIN_US 1000
#define CPUS_MAX 10000.0

/* One directory of the sandbox: v2 holds every controller in one, v1 one per hierarchy
 * (or per set of controllers mounted together). */
struct cg_dir {
    int version;
    unsigned controllers;  /* SBXD_CG_* bits it holds */
    int made;              /* it exists and is the sandbox's to remove */
    char path[PATH_MAX];
};

struct sbxd_cgroup {
    int ndirs;
    struct cg_dir dir[SBXD_CG_COUNT];
};

static const struct cg_dir *dir_of(const struct sbxd_cgroup *g, unsigned controller)
{
    for (int i = 0; g && i < g->ndirs; i++)
        if (g->dir[i].controllers & controller) return &g->dir[i];
    return NULL;
}

/* The sandbox's directory in each usable controller, one entry per distinct path. */
static int fill_paths(struct sbxd_cgroup *g, const struct sbxd_cgroups *cg, const char *id)
{
    memset(g, 0, sizeof *g);
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) {
        if (!(cg->mask & (1u << bit))) continue;
        char path[PATH_MAX];
        if (sbxd_cgfs_path(path, sizeof path, cg->place[bit].parent, id) < 0) return -1;
        int i = 0;
        while (i < g->ndirs && strcmp(g->dir[i].path, path) != 0) i++;
        if (i == g->ndirs) {
            g->ndirs++;
            g->dir[i].version = cg->place[bit].version;
            memcpy(g->dir[i].path, path, sizeof path);
        }
        g->dir[i].controllers |= 1u << bit;
    }
    return 0;
}

/* ---- limits ---- */

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static int write_value(const struct cg_dir *d, const char *file, const char *value, char *why,
                       size_t whylen)
{
    if (sbxd_cgfs_write(d->path, file, value) == 0) return 0;
    int saved = errno;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", d->path, file);
    return fail(why, whylen, "cannot write the limit into %s: %s", path, strerror(saved));
}

/* Memory with swap counted in, so that swapping cannot stretch the limit. The swap
 * files exist only where the kernel accounts swap. */
static int limit_memory(const struct cg_dir *d, long mb, char *why, size_t whylen)
{
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%lld", (long long)mb * 1024 * 1024);
    if (d->version == 1) {
        /* memsw may never be below the memory limit: the memory limit goes first */
        if (write_value(d, "memory.limit_in_bytes", bytes, why, whylen) < 0) return -1;
        if (!sbxd_cgfs_exists(d->path, "memory.memsw.limit_in_bytes")) return 0;
        return write_value(d, "memory.memsw.limit_in_bytes", bytes, why, whylen);
    }
    if (write_value(d, "memory.max", bytes, why, whylen) < 0) return -1;
    if (!sbxd_cgfs_exists(d->path, "memory.swap.max")) return 0;
    return write_value(d, "memory.swap.max", "0", why, whylen);
}

static int limit_pids(const struct cg_dir *d, long pids, char *why, size_t whylen)
{
    char value[32];
    snprintf(value, sizeof value, "%ld", pids);
    return write_value(d, "pids.max", value, why, whylen);
}

/* cpus >= 0 and at most CPUS_MAX: checked before */
static long long cpu_quota_us(double cpus)
{
    return (long long)(cpus * CPU_PERIOD_US + 0.5);
}

static int limit_cpu(const struct cg_dir *d, double cpus, char *why, size_t whylen)
{
    long long quota = cpu_quota_us(cpus);
    char value[64];
    if (d->version == 1) {
        snprintf(value, sizeof value, "%d", CPU_PERIOD_US);
        if (write_value(d, "cpu.cfs_period_us", value, why, whylen) < 0) return -1;
        snprintf(value, sizeof value, "%lld", quota);
        return write_value(d, "cpu.cfs_quota_us", value, why, whylen);
    }
    snprintf(value, sizeof value, "%lld %d", quota, CPU_PERIOD_US);
    return write_value(d, "cpu.max", value, why, whylen);
}

/* Values the kernel would refuse, or that overflow on the way, are refused here with a
 * reason a user can act on. */
static int check_limits(const struct sbxd_limits *lim, char *why, size_t whylen)
{
    const char *bad = NULL;
    if (lim->memory_mb < 0 || lim->memory_mb > LLONG_MAX / (1024 * 1024))
        bad = "memory_mb is out of range";
    else if (lim->pids < 0)
        bad = "pids must not be negative";
    else if (!isfinite(lim->cpus) || lim->cpus < 0 || lim->cpus > CPUS_MAX)
        bad = "cpus is out of range";
    else if (lim->cpus > 0 && cpu_quota_us(lim->cpus) < CPU_QUOTA_MIN_US)
        bad = "cpus must be at least 0.01";
    if (!bad) return 0;
    return fail(why, whylen, "%s", bad);
}

/* Each limit asked needs its controller. */
static int check_controllers(const struct sbxd_cgroups *cg, const struct sbxd_limits *lim,
                             char *why, size_t whylen)
{
    const char *missing = NULL;
    if (lim->memory_mb > 0 && !sbxd_cgroups_have(cg, SBXD_CG_MEMORY))
        missing = "memory";
    else if (lim->pids > 0 && !sbxd_cgroups_have(cg, SBXD_CG_PIDS))
        missing = "pids";
    else if (lim->cpus > 0 && !sbxd_cgroups_have(cg, SBXD_CG_CPU))
        missing = "cpu";
    if (!missing) return 0;
    return fail(why, whylen, "%s limits need a writable %s cgroup", missing, missing);
}

static int write_limits(const struct sbxd_cgroup *g, const struct sbxd_limits *lim, char *why,
                        size_t whylen)
{
    if (lim->memory_mb > 0 && limit_memory(dir_of(g, SBXD_CG_MEMORY), lim->memory_mb, why, whylen) < 0)
        return -1;
    if (lim->pids > 0 && limit_pids(dir_of(g, SBXD_CG_PIDS), lim->pids, why, whylen) < 0)
        return -1;
    if (lim->cpus > 0 && limit_cpu(dir_of(g, SBXD_CG_CPU), lim->cpus, why, whylen) < 0)
        return -1;
    return 0;
}

/* ---- removal ---- */

static int ask_freeze(const struct cg_dir *d)
{
    return d->version == 1 ? sbxd_cgfs_write(d->path, "freezer.state", "FROZEN")
                           : sbxd_cgfs_write(d->path, "cgroup.freeze", "1");
}

static int ask_thaw(const struct cg_dir *d)
{
    return d->version == 1 ? sbxd_cgfs_write(d->path, "freezer.state", "THAWED")
                           : sbxd_cgfs_write(d->path, "cgroup.freeze", "0");
}

/* Frozen, the processes cannot fork while they are killed one by one; the kill takes
 * effect once they are thawed (a v1 frozen process does not wake for a signal). */
static int remove_groups(const struct sbxd_cgroup *g)
{
    const struct cg_dir *fz = dir_of(g, SBXD_CG_FREEZER);
    if (fz && fz->made) {
        sbxd_cgroup_freeze(g);
        for (int i = 0; i < g->ndirs; i++)
            if (g->dir[i].made) sbxd_cgfs_kill_procs(g->dir[i].path);
        ask_thaw(fz);
    }
    int rc = 0;
    for (int i = 0; i < g->ndirs; i++)
        if (g->dir[i].made && sbxd_cgfs_remove(g->dir[i].path) < 0) rc = -1;
    return rc;
}

/* ---- the API ---- */

static int make_dirs(struct sbxd_cgroup *g, const char *id, char *why, size_t whylen)
{
    for (int i = 0; i < g->ndirs; i++) {
        if (mkdir(g->dir[i].path, 0755) == 0) {
            g->dir[i].made = 1;
            continue;
        }
        if (errno == EEXIST) return fail(why, whylen, "the groups of sandbox %s exist already", id);
        int saved = errno;
        return fail(why, whylen, "cannot make cgroup %s: %s", g->dir[i].path, strerror(saved));
    }
    return 0;
}

struct sbxd_cgroup *sbxd_cgroup_create(const struct sbxd_cgroups *cg, const char *id,
                                       const struct sbxd_limits *lim, char *why, size_t whylen)
{
    if (!sbxd_cgfs_name_ok(id)) {
        fail(why, whylen, "not a valid sandbox id for a cgroup: \"%.64s\"", id);
        return NULL;
    }
    if (check_limits(lim, why, whylen) < 0 || check_controllers(cg, lim, why, whylen) < 0)
        return NULL;
    struct sbxd_cgroup *g = calloc(1, sizeof *g);
    if (!g) {
        fail(why, whylen, "cannot make cgroups: %s", strerror(ENOMEM));
        return NULL;
    }
    if (fill_paths(g, cg, id) < 0) {
        fail(why, whylen, "cgroup path too long for sandbox %s", id);
    } else if (make_dirs(g, id, why, whylen) == 0 && write_limits(g, lim, why, whylen) == 0) {
        return g;
    }
    remove_groups(g);
    free(g);
    return NULL;
}

int sbxd_cgroup_join(const struct sbxd_cgroup *g, pid_t pid)
{
    char value[32];
    snprintf(value, sizeof value, "%d", (int)pid);
    for (int i = 0; g && i < g->ndirs; i++)
        if (sbxd_cgfs_write(g->dir[i].path, "cgroup.procs", value) < 0) return -1;
    return 0;
}

int sbxd_cgroup_can_freeze(const struct sbxd_cgroup *g)
{
    return dir_of(g, SBXD_CG_FREEZER) != NULL;
}

/* v1 reads FREEZING until every process has stopped, v2 sets "frozen 1" in cgroup.events.
 * A v1 freeze that did not complete is retried by asking again. */
static int is_frozen(const struct cg_dir *d)
{
    if (d->version == 2) return sbxd_cgfs_read_key(d->path, "cgroup.events", "frozen") == 1;
    char state[32];
    if (sbxd_cgfs_read(d->path, "freezer.state", state, sizeof state) < 0) return 0;
    return strncmp(state, "FROZEN", 6) == 0;
}

int sbxd_cgroup_freeze(const struct sbxd_cgroup *g)
{
    const struct cg_dir *d = dir_of(g, SBXD_CG_FREEZER);
    if (!d) {
        errno = ENOTSUP;
        return -1;
    }
    for (int i = 0; i < FREEZE_TRIES; i++) {
        if (ask_freeze(d) < 0) return -1;
        if (is_frozen(d)) return 0;
        sbxd_cgfs_sleep_ms(FREEZE_STEP_MS);
    }
    ask_thaw(d);  /* not left half frozen */
    errno = ETIMEDOUT;
    return -1;
}

int sbxd_cgroup_thaw(const struct sbxd_cgroup *g)
{
    const struct cg_dir *d = dir_of(g, SBXD_CG_FREEZER);
    if (!d) {
        errno = ENOTSUP;
        return -1;
    }
    return ask_thaw(d);
}

long sbxd_cgroup_oom_kills(const struct sbxd_cgroup *g)
{
    const struct cg_dir *d = dir_of(g, SBXD_CG_MEMORY);
    if (!d) return -1;
    return d->version == 1 ? sbxd_cgfs_read_key(d->path, "memory.oom_control", "oom_kill")
                           : sbxd_cgfs_read_key(d->path, "memory.events", "oom_kill");
}

int sbxd_cgroup_destroy(struct sbxd_cgroup *g)
{
    if (!g) return 0;
    int rc = remove_groups(g);
    free(g);
    return rc;
}

/* A leftover is known by its name only: its groups are taken to be wherever a sandbox
 * of that name would have them, and removed as a sandbox's are. */
static int sweep_parent(const struct sbxd_cgroups *cg, const char *parent, struct sbxd_cgroup *g)
{
    DIR *d = opendir(parent);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fill_paths(g, cg, e->d_name) < 0) continue;
        for (int i = 0; i < g->ndirs; i++) g->dir[i].made = 1;
        if (remove_groups(g) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int sbxd_cgroups_sweep(const struct sbxd_cgroups *cg)
{
    struct sbxd_cgroup *g = malloc(sizeof *g);
    if (!g) return 0;
    int removed = 0;
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++)
        if (cg->mask & (1u << bit)) removed += sweep_parent(cg, cg->place[bit].parent, g);
    free(g);
    return removed;
}
