#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boxfs.h"
#include "bwrap_args.h"
#include "initproto.h"
#include "users.h"

static int add(struct sbxd_argv *a, const char *s)
{
    if (a->n + 1 >= SBXD_ARGV_MAX) return -1;
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
    return 0;
}

/* A string built into the argv's own text. */
static int addf(struct sbxd_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int addf(struct sbxd_argv *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->text + a->used, sizeof a->text - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof a->text - a->used) return -1;
    char *s = a->text + a->used;
    a->used += (size_t)n + 1;
    return add(a, s);
}

static int add_all(struct sbxd_argv *a, const char *const *args)
{
    for (; *args; args++)
        if (add(a, *args)) return -1;
    return 0;
}

/* The host's /bin, /lib... : links into /usr (merged /usr, as on Debian 12) are made as
 * links; real directories are bound read-only. */
static int add_top_dirs(struct sbxd_argv *a)
{
    static const char *const TOP[] = {"/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin", NULL};
    for (const char *const *t = TOP; *t; t++) {
        struct stat st;
        char target[256];
        if (lstat(*t, &st) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(*t, target, sizeof target - 1);
            if (n < 0) continue;
            target[n] = '\0';
            if (add(a, "--symlink") || addf(a, "%s", target) || add(a, *t)) return -1;
        } else if (S_ISDIR(st.st_mode) && (add(a, "--ro-bind") || add(a, *t) || add(a, *t))) {
            return -1;
        }
    }
    return 0;
}

/* The shared etc, then the host files it has mount points for. */
static int add_etc(struct sbxd_argv *a, const char *root)
{
    if (add(a, "--ro-bind") || addf(a, "%s/etc", root) || add(a, "/etc")) return -1;
    for (const char *const *f = SBXD_ETC_FROM_HOST; *f; f++) {
        char host[256];
        struct stat st;
        snprintf(host, sizeof host, "/etc/%s", *f);
        if (lstat(host, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (add(a, "--ro-bind") || addf(a, "%s", host) || addf(a, "%s", host)) return -1;
    }
    return 0;
}

int sbxd_bwrap_argv(const struct sbxd_bwrap_conf *c, struct sbxd_argv *a)
{
    static const char *const NAMESPACES[] = {
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup", "--hostname", "sandbox",
        "--as-pid-1", "--die-with-parent", "--new-session", NULL};
    static const char *const SYSTEM[] = {
        "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", NULL};
    static const char *const DIRS[] = {
        "--perms", "0755", "--dir", "/home", "--perms", "0700", "--dir", "/root", NULL};
    a->n = 0;
    a->used = 0;
    a->v[0] = NULL;
    if (add(a, c->bwrap) || add_all(a, NAMESPACES)) return -1;
    if (!c->network && add(a, "--unshare-net")) return -1;
    if (c->single_uid && (add(a, "--unshare-user") || addf(a, "--uid") || addf(a, "%u", sbxd_user_default()->uid) ||
                          add(a, "--gid") || addf(a, "%u", sbxd_user_default()->gid)))
        return -1;
    if (add_all(a, SYSTEM) || add_top_dirs(a) || add_etc(a, c->root) || add_all(a, DIRS)) return -1;
    if (add(a, "--bind") || addf(a, "%s/home", c->dir) || add(a, SBXD_HOME)) return -1;
    if (add(a, "--bind") || addf(a, "%s/tmp", c->dir) || add(a, "/tmp")) return -1;
    if (add(a, "--ro-bind") || add(a, c->init) || add(a, SBXD_INIT_PATH)) return -1;
    if (add(a, "--chdir") || add(a, "/") || add(a, "--")) return -1;
    if (add(a, SBXD_INIT_PATH) || addf(a, "%d", SBX_INIT_FD)) return -1;
    return c->nproc > 0 ? addf(a, "%ld", c->nproc) : 0;
}
