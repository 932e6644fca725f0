/* What a sandbox is on the host's filesystem. Under sbxd's root: one directory per
 * sandbox, named by its id, holding its home and its /tmp (bound onto /home/user and
 * /tmp inside), and `etc`, the minimal /etc all sandboxes share, written at start. */
#ifndef SBXD_BOXFS_H
#define SBXD_BOXFS_H
#include <sys/types.h>

/* Host directories bound read-only into the sandbox's /etc, when the host has them; a
 * few host files are copied into the shared etc at start. Never the host's passwd,
 * shadow, ssh keys or ssl/private. */
extern const char *const SBXD_ETC_FROM_HOST[];

/* Writes `root`/etc (users.h's passwd and group, hosts, hostname, nsswitch.conf, and the
 * mount points of SBXD_ETC_FROM_HOST). -1 (why set) on failure. */
int sbxd_boxfs_init(const char *root, char *why, size_t whylen);

/* Removes the sandbox directories a previous sbxd left in `root`: how many, -1 when
 * `root` cannot be read. */
int sbxd_boxfs_sweep(const char *root);

/* Makes `root`/`id` with its home and tmp. `base` is the host uid (and gid) of the
 * sandbox's root when sbxd maps a range (as root), -1 when the sandbox's users are
 * sbxd's own uid: then nothing is chowned. Returns the malloc'd directory, NULL on
 * failure (nothing left behind). */
char *sbxd_boxfs_create(const char *root, const char *id, long base);

/* A copy of the init under the root, where every sandbox's bwrap can reach it whatever
 * the directory sbxd was installed in allows: the malloc'd path, NULL on failure. */
char *sbxd_boxfs_install_init(const char *root, const char *program);

/* `dir`/home and `dir`/tmp, into out. */
int sbxd_boxfs_path(const char *dir, const char *leaf, char *out, size_t len);

#endif
