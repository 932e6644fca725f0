#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boxfs.h"
#include "protocol.h"
#include "sbxd.h"
#include "users.h"

const char *const SBXD_ETC_FROM_HOST[] = {"alternatives", "ssl/certs", NULL};

/* Host files copied into the shared etc at start (a bind each would cost every sandbox's
 * start a mount); a link is copied as a link. */
static const char *const ETC_COPIED[] = {
    "ssl/openssl.cnf", "ca-certificates.conf", "ld.so.cache", "resolv.conf", "localtime", "mime.types", NULL,
};

int sbxd_boxfs_path(const char *dir, const char *leaf, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", dir, leaf);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    if (sbxd_boxfs_path(dir, name, path, sizeof path)) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    int rc = write(fd, text, len) == (ssize_t)len ? 0 : -1;
    return close(fd) == 0 ? rc : -1;
}

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ssize_t n = 0;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) n = -1;
    int ok = in >= 0 && out >= 0 && n == 0;
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* A host file or directory of /etc in the shared etc: a directory as an empty mount
 * point for its bind, a file as a copy, a link as a link (localtime: into /usr). */
static int make_mount_point(const char *etc, const char *name)
{
    char host[4096], path[4096], target[4096];
    struct stat st;
    if (sbxd_boxfs_path("/etc", name, host, sizeof host) || sbxd_boxfs_path(etc, name, path, sizeof path))
        return -1;
    if (lstat(host, &st) != 0) return 0; /* the host has none: the sandbox neither */
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    *slash = '/';
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(host, target, sizeof target - 1);
        if (n < 0) return -1;
        target[n] = '\0';
        unlink(path);
        return symlink(target, path);
    }
    if (S_ISDIR(st.st_mode)) return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
    return copy_file(host, path);
}

static int write_etc(const char *etc)
{
    char passwd[1024], group[512];
    if (mkdir(etc, 0755) != 0 && errno != EEXIST) return -1;
    if (chmod(etc, 0755) != 0 || sbxd_users_passwd(passwd, sizeof passwd) || sbxd_users_group(group, sizeof group))
        return -1;
    if (write_file(etc, "passwd", passwd) || write_file(etc, "group", group) ||
        write_file(etc, "hostname", "sandbox\n") ||
        write_file(etc, "hosts", "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n") ||
        write_file(etc, "nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\n"))
        return -1;
    for (const char *const *f = SBXD_ETC_FROM_HOST; *f; f++)
        if (make_mount_point(etc, *f)) return -1;
    for (const char *const *f = ETC_COPIED; *f; f++)
        if (make_mount_point(etc, *f)) return -1;
    return 0;
}

int sbxd_boxfs_sweep(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return -1;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4096];
        if (strncmp(e->d_name, SBX_ID_PREFIX, strlen(SBX_ID_PREFIX)) != 0) continue;
        if (sbxd_boxfs_path(root, e->d_name, path, sizeof path) == 0 && sbxd_remove_tree(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int sbxd_boxfs_init(const char *root, char *why, size_t whylen)
{
    char etc[4096];
    if (sbxd_boxfs_path(root, "etc", etc, sizeof etc) || write_etc(etc)) {
        snprintf(why, whylen, "cannot write %s/etc: %s", root, strerror(errno));
        return -1;
    }
    return 0;
}

static int make_dir(const char *dir, const char *leaf, mode_t mode, long uid, long gid)
{
    char path[4096];
    if (sbxd_boxfs_path(dir, leaf, path, sizeof path) || mkdir(path, mode) != 0) return -1;
    if (uid >= 0 && chown(path, (uid_t)uid, (gid_t)gid) != 0) return -1;
    return chmod(path, mode); /* past the umask */
}

char *sbxd_boxfs_create(const char *root, const char *id, long base)
{
    size_t len = strlen(root) + strlen(id) + 2;
    char *dir = malloc(len);
    if (!dir) return NULL;
    snprintf(dir, len, "%s/%s", root, id);
    /* Mapped, the sandbox's root (its bwrap) enters by the group; nobody else enters. */
    mode_t mode = base >= 0 ? 0710 : 0700;
    const struct sbxd_user *user = sbxd_user_default();
    if (mkdir(dir, mode) != 0) return free(dir), NULL;
    if ((base >= 0 && chown(dir, 0, (gid_t)base) != 0) || chmod(dir, mode) != 0 ||
        make_dir(dir, "home", 0755, base >= 0 ? base + user->uid : -1, base >= 0 ? base + user->gid : -1) ||
        make_dir(dir, "tmp", 01777, base, base)) {
        sbxd_remove_tree(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

char *sbxd_boxfs_install_init(const char *root, const char *program)
{
    char path[4096];
    if (sbxd_boxfs_path(root, "sbx-init", path, sizeof path)) return NULL;
    if (copy_file(program, path) == 0 && chmod(path, 0755) == 0) return strdup(path);
    unlink(path);
    return NULL;
}
