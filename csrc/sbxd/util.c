#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "protocol.h"
#include "sbxd.h"

int sbxd_fail(struct sbxd_err *err, int status, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    err->kind = kind;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

double sbxd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t sbxd_timeout_ms(double seconds)
{
    if (!(seconds > 0)) return 1;  /* never here: parsing refuses these */
    if (seconds > SBX_TIMEOUT_MAX) seconds = SBX_TIMEOUT_MAX;
    uint64_t ms = (uint64_t)(seconds * 1000.0 + 0.5);
    return ms ? ms : 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Depth-first, never following symlinks: a sandbox's links must not reach outside. */
int sbxd_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int sbxd_searchable_by_all(const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir || dir[0] != '/') return 0;
    for (;;) {
        struct stat st;
        if (stat(dir[0] ? dir : "/", &st) != 0 || !(st.st_mode & S_IXOTH)) return 0;
        char *slash = strrchr(dir, '/');
        if (!slash || !dir[0]) return 1;
        *slash = '\0';
    }
}
