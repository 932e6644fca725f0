/* The cgroup module's file operations (see cgroup_fs.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "cgroup_fs.h"

/* A killed process leaves its group once the kernel has torn it down, which takes a
 * moment; a removal retries this often, this far apart, before it gives up. */
#define REMOVE_TRIES 100
#define REMOVE_STEP_MS 10
/* Groups below a sandbox's are the sandbox's own doing; deeper than this is refused. */
#define REMOVE_DEPTH 8

int sbxd_cgfs_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int sbxd_cgfs_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > SBXD_CG_NAME_MAX || name[0] == '.') return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

int sbxd_cgfs_write(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX];
    if (sbxd_cgfs_path(path, sizeof path, dir, file) < 0) return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int saved = errno;
    close(fd);
    if (n == (ssize_t)len) return 0;
    errno = n < 0 ? saved : EIO;
    return -1;
}

long sbxd_cgfs_read(const char *dir, const char *file, char *buf, size_t cap)
{
    char path[PATH_MAX];
    if (cap == 0 || sbxd_cgfs_path(path, sizeof path, dir, file) < 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

int sbxd_cgfs_exists(const char *dir, const char *file)
{
    char path[PATH_MAX];
    return sbxd_cgfs_path(path, sizeof path, dir, file) == 0 && access(path, F_OK) == 0;
}

long sbxd_cgfs_read_key(const char *dir, const char *file, const char *key)
{
    char buf[SBXD_CGFS_VALUE_MAX];
    if (sbxd_cgfs_read(dir, file, buf, sizeof buf) < 0) return -1;
    size_t klen = strlen(key);
    const char *line = buf;
    while (*line) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') return strtol(line + klen + 1, NULL, 10);
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return -1;
}

/* Whether `word` is one of the space-separated words of dir/file (cgroup.controllers,
 * cgroup.subtree_control). */
int sbxd_cgfs_has_word(const char *dir, const char *file, const char *word)
{
    char buf[SBXD_CGFS_VALUE_MAX];
    if (sbxd_cgfs_read(dir, file, buf, sizeof buf) < 0) return 0;
    size_t wlen = strlen(word);
    for (char *p = strstr(buf, word); p; p = strstr(p + 1, word)) {
        int starts = p == buf || p[-1] == ' ';
        int ends = p[wlen] == ' ' || p[wlen] == '\n' || p[wlen] == '\0';
        if (starts && ends) return 1;
    }
    return 0;
}

int sbxd_cgfs_kill_procs(const char *dir)
{
    char path[PATH_MAX];
    if (sbxd_cgfs_path(path, sizeof path, dir, "cgroup.procs") < 0) return -1;
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? 0 : -1;
    pid_t self = getpid();
    int pid, killed = 0;
    while (fscanf(f, "%d", &pid) == 1) {
        if (pid <= 0 || pid == self) continue;
        if (kill(pid, SIGKILL) == 0) killed++;
    }
    fclose(f);
    return killed;
}

void sbxd_cgfs_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Kills what runs in `dir` and below: v2's cgroup.kill does the whole subtree at once
 * and cannot miss a process forked meanwhile; else each process listed. */
static void kill_group(const char *dir)
{
    if (sbxd_cgfs_write(dir, "cgroup.kill", "1") == 0) return;
    sbxd_cgfs_kill_procs(dir);
}

static int remove_group(const char *dir, int depth);

/* Removes each group directly below `dir` (any other directory entry is a control file). */
static int remove_children(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        if (sbxd_cgfs_path(child, sizeof child, dir, e->d_name) < 0 ||
            remove_group(child, depth + 1) < 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

static int remove_group(const char *dir, int depth)
{
    if (depth > REMOVE_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    kill_group(dir);
    if (remove_children(dir, depth) < 0) return -1;
    for (int i = 0; i < REMOVE_TRIES; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT) return 0;
        if (errno != EBUSY && errno != ENOTEMPTY) return -1;
        kill_group(dir);
        sbxd_cgfs_sleep_ms(REMOVE_STEP_MS);
    }
    errno = EBUSY;
    return -1;
}

int sbxd_cgfs_remove(const char *dir)
{
    return remove_group(dir, 0);
}
