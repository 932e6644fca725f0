/* Discovery at sbxd start: where each controller is mounted, which group sbxd runs in
 * there, and the parent group sbxd makes under it (see cgroup.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroup.h"
#include "cgroup_delegate.h"
#include "cgroup_fs.h"

/* By bit number, as the kernel names them in both versions. */
static const char *const controller_name[SBXD_CG_COUNT] = {"freezer", "memory", "pids", "cpu"};

/* The v1 file that proves a group of the controller can be limited (or frozen). */
static const char *const v1_control_file[SBXD_CG_COUNT] = {
    "freezer.state", "memory.limit_in_bytes", "pids.max", "cpu.cfs_quota_us"};

/* Whether `word` is one of the comma-separated items of `list` (a mount's super options,
 * or the controllers of a /proc/self/cgroup line). */
static int list_has(const char *list, const char *word)
{
    size_t wlen = strlen(word);
    const char *p = list;
    for (;;) {
        if (strncmp(p, word, wlen) == 0 && (p[wlen] == ',' || p[wlen] == '\0')) return 1;
        p = strchr(p, ',');
        if (!p) return 0;
        p++;
    }
}

/* The group sbxd is in: for v1 the line whose controllers include `controller`, for v2
 * (controller NULL) the "0::" line. */
static int find_own_group(const char *self_cgroup, const char *controller, char *out, size_t cap)
{
    FILE *f = fopen(self_cgroup, "re");
    if (!f) return -1;
    char *line = NULL;
    size_t size = 0;
    int found = -1;
    while (found < 0 && getline(&line, &size, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *list = strchr(line, ':');
        char *path = list ? strchr(list + 1, ':') : NULL;
        if (!path) continue;
        *list++ = '\0';
        *path++ = '\0';
        int match = controller ? list_has(list, controller)
                               : strcmp(line, "0") == 0 && list[0] == '\0';
        if (match && path[0] == '/' && strlen(path) < cap) {
            strcpy(out, path);
            found = 0;
        }
    }
    free(line);
    fclose(f);
    return found;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo; decodes in place. */
static void unescape_octal(char *s)
{
    char *out = s;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

/* The fields of one mountinfo line that matter here. */
struct mount_line {
    char *root, *mountpoint, *fstype, *superopts;
};

/* "id parent maj:min root mountpoint opts [optional...] - fstype source superopts" */
static int split_mount_line(char *line, struct mount_line *m)
{
    char *field[6], *save = NULL, *tok;
    int n = 0;
    for (tok = strtok_r(line, " \n", &save); tok && n < 6; tok = strtok_r(NULL, " \n", &save))
        field[n++] = tok;
    if (n < 6) return -1;
    while (tok && strcmp(tok, "-") != 0) tok = strtok_r(NULL, " \n", &save);
    m->fstype = strtok_r(NULL, " \n", &save);
    char *source = strtok_r(NULL, " \n", &save);
    m->superopts = strtok_r(NULL, " \n", &save);
    if (!tok || !m->fstype || !source || !m->superopts) return -1;
    m->root = field[3];
    m->mountpoint = field[4];
    unescape_octal(m->root);
    unescape_octal(m->mountpoint);
    return 0;
}

/* The directory of `group` under a mount of `root` at `mountpoint`, when the mount shows
 * it (the mount's root is the group or one of its ancestors). */
static int group_dir(const struct mount_line *m, const char *group, char *out, size_t cap)
{
    const char *rel = group;
    if (strcmp(m->root, "/") != 0) {
        size_t rlen = strlen(m->root);
        if (strncmp(group, m->root, rlen) != 0 || (group[rlen] != '/' && group[rlen] != '\0'))
            return -1;
        rel = group + rlen;
    }
    if (strcmp(rel, "/") == 0) rel = "";
    int n = snprintf(out, cap, "%s%s", m->mountpoint, rel);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The directory of sbxd's own group in the hierarchy that holds `controller` (v1), or in
 * the unified one (controller NULL). */
static int find_own_dir(const char *mountinfo, const char *self_cgroup, const char *controller,
                        char *out, size_t cap)
{
    char group[PATH_MAX];
    if (find_own_group(self_cgroup, controller, group, sizeof group) < 0) return -1;
    FILE *f = fopen(mountinfo, "re");
    if (!f) return -1;
    char *line = NULL;
    size_t size = 0;
    int found = -1;
    while (found < 0 && getline(&line, &size, f) > 0) {
        struct mount_line m;
        if (split_mount_line(line, &m) < 0) continue;
        int match = controller ? strcmp(m.fstype, "cgroup") == 0 && list_has(m.superopts, controller)
                               : strcmp(m.fstype, "cgroup2") == 0;
        if (match && group_dir(&m, group, out, cap) == 0) found = 0;
    }
    free(line);
    fclose(f);
    return found;
}

static int writable(const char *dir, const char *file)
{
    char path[PATH_MAX];
    return sbxd_cgfs_path(path, sizeof path, dir, file) == 0 && access(path, W_OK) == 0;
}

/* A v2 parent group can hold a controller's limits for its children once the controller
 * is enabled in its subtree_control, which the kernel allows only when sbxd's own group
 * enables it for its children already. The freeze needs no controller. */
static int v2_usable(const char *parent, int bit)
{
    if (!writable(parent, "cgroup.procs")) return 0;
    if (bit == 0) return writable(parent, "cgroup.freeze");
    const char *name = controller_name[bit];
    if (!sbxd_cgfs_has_word(parent, "cgroup.controllers", name)) return 0;
    if (sbxd_cgfs_has_word(parent, "cgroup.subtree_control", name)) return 1;
    char enable[32];
    snprintf(enable, sizeof enable, "+%s", name);
    return sbxd_cgfs_write(parent, "cgroup.subtree_control", enable) == 0;
}

static int v1_usable(const char *parent, int bit)
{
    return writable(parent, "cgroup.procs") && writable(parent, v1_control_file[bit]);
}

/* Finds controller `bit`'s hierarchy (v1, else the unified one, where sbxd's own group is
 * `own2`, NULL without one) and makes its parent group; fills place and says whether it
 * made the directory. 1 when usable. */
static int open_controller(struct sbxd_cg_place *place, int bit, const char *name,
                           const char *mountinfo, const char *self_cgroup, const char *own2,
                           int *made)
{
    char own[PATH_MAX], leaf[SBXD_CG_NAME_MAX + 8];
    *made = 0;
    place->version = 1;
    if (find_own_dir(mountinfo, self_cgroup, controller_name[bit], own, sizeof own) < 0) {
        place->version = 2;
        if (!own2) return 0;
        snprintf(own, sizeof own, "%s", own2);
    }
    snprintf(leaf, sizeof leaf, "sbxd-%s", name);
    if (sbxd_cgfs_path(place->parent, sizeof place->parent, own, leaf) < 0) return 0;
    if (mkdir(place->parent, 0755) == 0)
        *made = 1;
    else if (errno != EEXIST)
        return 0;
    return place->version == 1 ? v1_usable(place->parent, bit) : v2_usable(place->parent, bit);
}

/* --cgroup-delegated: sbxd's own v2 group `own2` is sbxd's to manage, so it hands the
 * controllers that no v1 hierarchy holds down to its children, moving sbxd (and whatever
 * else runs in it) into the leaf `sbxd-<name>@daemon` where the kernel requires that. The
 * '@' keeps the leaf apart from every sbxd's parent group. Returns how many moved, or -1. */
static int delegate_v2(const char *own2, const char *name, const char *mountinfo,
                       const char *self_cgroup)
{
    const char *names[SBXD_CG_COUNT];
    int n = 0;
    char v1[PATH_MAX];
    for (int bit = 1; bit < SBXD_CG_COUNT; bit++)
        if (find_own_dir(mountinfo, self_cgroup, controller_name[bit], v1, sizeof v1) < 0)
            names[n++] = controller_name[bit];
    char leaf[SBXD_CG_NAME_MAX + 16];
    snprintf(leaf, sizeof leaf, "sbxd-%s@daemon", name);
    return n ? sbxd_cg_delegate(own2, leaf, names, n) : 0;
}

/* A directory made for a controller that turned out unusable goes again, unless a
 * usable controller shares it (v2, or v1 controllers mounted together). */
static void remove_unused(const struct sbxd_cgroups *cg, const int *made)
{
    for (int i = 0; i < SBXD_CG_COUNT; i++) {
        if (!made[i] || cg->place[i].version) continue;
        int shared = 0;
        for (int j = 0; j < SBXD_CG_COUNT; j++)
            shared |= cg->place[j].version && strcmp(cg->place[j].parent, cg->place[i].parent) == 0;
        if (!shared) rmdir(cg->place[i].parent);
    }
}

unsigned sbxd_cgroups_open_from(struct sbxd_cgroups *cg, const char *name, int delegated,
                                const char *mountinfo, const char *self_cgroup)
{
    memset(cg, 0, sizeof *cg);
    if (!sbxd_cgfs_name_ok(name)) return 0;
    /* Read once, before a delegation moves sbxd and /proc/self/cgroup with it. */
    char own2[PATH_MAX];
    int have2 = find_own_dir(mountinfo, self_cgroup, NULL, own2, sizeof own2) == 0;
    if (have2 && delegated) {
        cg->moved = delegate_v2(own2, name, mountinfo, self_cgroup);
        cg->delegate_errno = cg->moved < 0 ? errno : 0;
    }
    int made[SBXD_CG_COUNT];
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) {
        struct sbxd_cg_place *place = &cg->place[bit];
        if (open_controller(place, bit, name, mountinfo, self_cgroup, have2 ? own2 : NULL,
                            &made[bit]))
            cg->mask |= 1u << bit;
        else
            place->version = 0;  /* the parent path stays, for remove_unused */
    }
    remove_unused(cg, made);
    return cg->mask;
}

unsigned sbxd_cgroups_open(struct sbxd_cgroups *cg, const char *name, int delegated)
{
    return sbxd_cgroups_open_from(cg, name, delegated, "/proc/self/mountinfo", "/proc/self/cgroup");
}

int sbxd_cgroups_have(const struct sbxd_cgroups *cg, unsigned controller)
{
    return (cg->mask & controller) != 0;
}

void sbxd_cgroups_close(struct sbxd_cgroups *cg)
{
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) {
        if (cg->place[bit].version) rmdir(cg->place[bit].parent);  /* stays if not empty */
        cg->place[bit].version = 0;
    }
    cg->mask = 0;
}
