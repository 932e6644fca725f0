/* The cgroup module's file operations: bounded paths, whole-value reads and writes of
 * control files, killing a group's processes, and removing a group. Inside the module
 * only. Each returns -1 with errno on failure and keeps no fd open on any path. */
#ifndef SBXD_CGROUP_FS_H
#define SBXD_CGROUP_FS_H

#include <stddef.h>

/* The longest control file value read or written at once (not cgroup.procs). */
#define SBXD_CGFS_VALUE_MAX 4096

/* `dir`/`name` into out[cap]; -1 with ENAMETOOLONG when it does not fit. */
int sbxd_cgfs_path(char *out, size_t cap, const char *dir, const char *name);

/* Whether a valid name for one path component: 1 to SBXD_CG_NAME_MAX of letters,
 * digits, '.', '_', '-', not starting with '.'. */
int sbxd_cgfs_name_ok(const char *name);

/* Writes `value` to dir/file in one write, as the kernel takes a control file's value. */
int sbxd_cgfs_write(const char *dir, const char *file, const char *value);

/* Reads dir/file into buf[cap], NUL-terminated; returns the length. */
long sbxd_cgfs_read(const char *dir, const char *file, char *buf, size_t cap);

/* Whether `word` is one of the space-separated words of dir/file (cgroup.controllers,
 * cgroup.subtree_control). */
int sbxd_cgfs_has_word(const char *dir, const char *file, const char *word);

/* Whether dir/file exists. */
int sbxd_cgfs_exists(const char *dir, const char *file);

/* The number after `key` in a "key value" per line file (memory.events, oom_control,
 * cgroup.events), or -1. */
long sbxd_cgfs_read_key(const char *dir, const char *file, const char *key);

/* Sends SIGKILL to each process listed in dir/cgroup.procs (never to sbxd itself);
 * returns how many it signalled. */
int sbxd_cgfs_kill_procs(const char *dir);

/* Removes group `dir` and any group below it, killing what runs inside and waiting a
 * bounded time for the processes to leave. 0 when gone (or never there). */
int sbxd_cgfs_remove(const char *dir);

/* Sleeps `ms` milliseconds. */
void sbxd_cgfs_sleep_ms(int ms);

#endif
