/* The cgroup module against the machine's real cgroupfs: discovery, limits read back from
 * the control files, a joined child's membership, freeze and thaw, an OOM kill counted, a
 * pids limit hit, removal, the sweep of a previous sbxd's groups, and the clean refusals
 * where a controller is missing. Needs root and a writable cgroup hierarchy; says so and
 * passes otherwise. Links nothing but the module (plain libc). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../csrc/sbxd/cgroup.h"
#include "../../csrc/sbxd/cgroup_delegate.h"
#include "check.h"

#define ALL_CONTROLLERS (SBXD_CG_FREEZER | SBXD_CG_MEMORY | SBXD_CG_PIDS | SBXD_CG_CPU)

static struct sbxd_cgroups cg;
static char name[64];

/* ---- helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* dir/file into out, or "" when it does not fit. */
static const char *file_path(char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) out[0] = '\0';
    return out;
}

/* The directory sandbox `id` has in controller `bit`'s hierarchy. */
static const char *group_dir(const struct sbxd_cgroups *c, int bit, const char *id)
{
    static char path[SBXD_CG_COUNT][PATH_MAX];
    return file_path(path[bit], sizeof path[bit], c->place[bit].parent, id);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* dir/file's whole content; "" when unreadable. */
static const char *read_all(const char *dir, const char *file)
{
    static char buf[4096];
    char path[PATH_MAX];
    file_path(path, sizeof path, dir, file);
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0) return buf;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* dir/file's first line; "" when unreadable. */
static const char *read_value(const char *dir, const char *file)
{
    char *buf = (char *)read_all(dir, file);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static int write_value(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX];
    file_path(path, sizeof path, dir, file);
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int pid_in_group(const char *dir, pid_t pid)
{
    char path[PATH_MAX];
    file_path(path, sizeof path, dir, "cgroup.procs");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int p, found = 0;
    while (!found && fscanf(f, "%d", &p) == 1) found = p == pid;
    fclose(f);
    return found;
}

/* A child that waits, before running `body`, until released: what sbxd does with a
 * sandbox's first process so that it is in its groups before it runs anything. */
struct held {
    pid_t pid;
    int release_fd;
};

static struct held spawn_held(void (*body)(void))
{
    struct held h = {-1, -1};
    int fds[2];
    if (pipe(fds) < 0) return h;
    h.pid = fork();
    if (h.pid == 0) {
        char c;
        close(fds[1]);
        ssize_t n = read(fds[0], &c, 1);
        (void)n;
        body();
        _exit(100);
    }
    close(fds[0]);
    h.release_fd = fds[1];
    return h;
}

static void release(struct held *h)
{
    close(h->release_fd);
    h->release_fd = -1;
}

static int reap_within(pid_t pid, double seconds, int *status)
{
    double deadline = now() + seconds;
    while (now() < deadline) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 0;
        if (r < 0) return -1;
        sleep_ms(10);
    }
    return -1;
}

/* The child's wait status, or -1 when it did not end within `seconds`: then it is
 * killed, and left alone if even that does not end it (still frozen), so that a failing
 * test ends rather than hangs. */
static int wait_status(pid_t pid, double seconds)
{
    int status;
    if (reap_within(pid, seconds, &status) == 0) return status;
    kill(pid, SIGKILL);
    reap_within(pid, 2, &status);
    return -1;
}

static int killed_by_sigkill(int status)
{
    return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* utime + stime of a process, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    long utime = 0, stime = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2)
        return -1;
    return utime + stime;
}

/* Whether the process gains CPU time within `seconds`. */
static int advances(pid_t pid, double seconds)
{
    long start = cpu_ticks(pid);
    double deadline = now() + seconds;
    while (now() < deadline) {
        if (cpu_ticks(pid) > start) return 1;
        sleep_ms(20);
    }
    return 0;
}

static int no_group_left(const struct sbxd_cgroups *c, const char *id)
{
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++)
        if (c->place[bit].version && exists(group_dir(c, bit, id))) return 0;
    return 1;
}

/* ---- child bodies ---- */

static void body_sleep(void)
{
    execlp("sleep", "sleep", "30", (char *)NULL);
}

static void body_spin(void)
{
    for (volatile unsigned long i = 0;; i++) {
    }
}

/* Touches 64 MiB page by page: more than a 16 MiB limit lets it have. */
static void body_allocate(void)
{
    size_t size = 64u << 20;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(2);
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    _exit(0);
}

/* Forks 20 children that wait: exits 0 when a fork failed with EAGAIN, 1 when all
 * succeeded, 2 on another error. The children stay for the removal to kill. */
static void body_fork_many(void)
{
    for (int i = 0; i < 20; i++) {
        pid_t p = fork();
        if (p == 0) {
            pause();
            _exit(0);
        }
        if (p < 0) _exit(errno == EAGAIN ? 0 : 2);
    }
    _exit(1);
}

/* ---- tests ---- */

static void test_open_finds_every_controller(void)
{
    CHECK(cg.mask == ALL_CONTROLLERS, "mask %#x", cg.mask);
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) {
        CHECK(sbxd_cgroups_have(&cg, 1u << bit), "controller bit %d", bit);
        CHECK(exists(cg.place[bit].parent), "parent %s", cg.place[bit].parent);
        CHECK(strstr(cg.place[bit].parent, name) != NULL, "parent %s", cg.place[bit].parent);
    }
    CHECK(sbxd_cgroups_sweep(&cg) == 0, "a fresh parent has no leftovers");
}

static void test_limits_read_back(void)
{
    char why[256] = "";
    struct sbxd_limits lim = {.memory_mb = 32, .pids = 16, .cpus = 0.5};
    struct sbxd_cgroup *g = sbxd_cgroup_create(&cg, "limits", &lim, why, sizeof why);
    CHECK(g != NULL, "create: %s", why);
    const char *mem = group_dir(&cg, 1, "limits");
    const char *pids = group_dir(&cg, 2, "limits");
    const char *cpu = group_dir(&cg, 3, "limits");
    if (cg.place[1].version == 1) {
        CHECK(strcmp(read_value(mem, "memory.limit_in_bytes"), "33554432") == 0, "%s",
              read_value(mem, "memory.limit_in_bytes"));
        if (exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"))
            CHECK(strcmp(read_value(mem, "memory.memsw.limit_in_bytes"), "33554432") == 0, "%s",
                  read_value(mem, "memory.memsw.limit_in_bytes"));
        CHECK(strcmp(read_value(cpu, "cpu.cfs_period_us"), "100000") == 0, "%s",
              read_value(cpu, "cpu.cfs_period_us"));
        CHECK(strcmp(read_value(cpu, "cpu.cfs_quota_us"), "50000") == 0, "%s",
              read_value(cpu, "cpu.cfs_quota_us"));
    } else {
        CHECK(strcmp(read_value(mem, "memory.max"), "33554432") == 0, "%s", read_value(mem, "memory.max"));
        CHECK(strcmp(read_value(cpu, "cpu.max"), "50000 100000") == 0, "%s", read_value(cpu, "cpu.max"));
    }
    CHECK(strcmp(read_value(pids, "pids.max"), "16") == 0, "%s", read_value(pids, "pids.max"));
    CHECK(sbxd_cgroup_destroy(g) == 0, "destroy");
    CHECK(no_group_left(&cg, "limits"), "groups removed");
}

static void test_join_then_destroy_kills(void)
{
    char why[256] = "";
    struct sbxd_limits none = {0, 0, 0};
    struct sbxd_cgroup *g = sbxd_cgroup_create(&cg, "join", &none, why, sizeof why);
    CHECK(g != NULL, "create: %s", why);
    struct held child = spawn_held(body_sleep);
    CHECK(sbxd_cgroup_join(g, child.pid) == 0, "join: %s", strerror(errno));
    release(&child);
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++)
        CHECK(pid_in_group(group_dir(&cg, bit, "join"), child.pid), "pid in %s", group_dir(&cg, bit, "join"));
    CHECK(sbxd_cgroup_destroy(g) == 0, "destroy");
    CHECK(no_group_left(&cg, "join"), "groups removed");
    CHECK(killed_by_sigkill(wait_status(child.pid, 10)), "the child was killed");
}

static void check_freeze_thaw(const struct sbxd_cgroups *c, const char *id)
{
    char why[256] = "";
    struct sbxd_limits none = {0, 0, 0};
    struct sbxd_cgroup *g = sbxd_cgroup_create(c, id, &none, why, sizeof why);
    CHECK(g != NULL, "create: %s", why);
    CHECK(sbxd_cgroup_can_freeze(g), "can freeze");
    struct held child = spawn_held(body_spin);
    CHECK(sbxd_cgroup_join(g, child.pid) == 0, "join: %s", strerror(errno));
    release(&child);
    CHECK(advances(child.pid, 10), "the child runs");

    const char *dir = group_dir(c, 0, id);
    int v1 = c->place[0].version == 1;
    CHECK(sbxd_cgroup_freeze(g) == 0, "freeze: %s", strerror(errno));
    if (v1)
        CHECK(strcmp(read_value(dir, "freezer.state"), "FROZEN") == 0, "%s", read_value(dir, "freezer.state"));
    else
        CHECK(strstr(read_all(dir, "cgroup.events"), "frozen 1") != NULL, "not frozen");
    long before = cpu_ticks(child.pid);
    sleep_ms(300);
    CHECK(cpu_ticks(child.pid) == before, "a frozen child gained CPU time");

    CHECK(sbxd_cgroup_thaw(g) == 0, "thaw: %s", strerror(errno));
    if (v1)
        CHECK(strcmp(read_value(dir, "freezer.state"), "THAWED") == 0, "%s", read_value(dir, "freezer.state"));
    CHECK(advances(child.pid, 10), "the thawed child runs again");

    CHECK(sbxd_cgroup_freeze(g) == 0, "freeze again: %s", strerror(errno));
    CHECK(sbxd_cgroup_destroy(g) == 0, "destroy of a frozen sandbox");
    CHECK(no_group_left(c, id), "groups removed");
    CHECK(killed_by_sigkill(wait_status(child.pid, 10)), "the frozen child was killed");
}

static void test_freeze_thaw(void)
{
    check_freeze_thaw(&cg, "freeze");
}

static void test_oom_kill_counted(void)
{
    char why[256] = "";
    struct sbxd_limits lim = {.memory_mb = 16};
    struct sbxd_cgroup *g = sbxd_cgroup_create(&cg, "oom", &lim, why, sizeof why);
    CHECK(g != NULL, "create: %s", why);
    long before = sbxd_cgroup_oom_kills(g);
    CHECK(before == 0, "oom kills at start: %ld", before);
    struct held child = spawn_held(body_allocate);
    CHECK(sbxd_cgroup_join(g, child.pid) == 0, "join: %s", strerror(errno));
    release(&child);
    int status = wait_status(child.pid, 30);
    CHECK(killed_by_sigkill(status), "status %#x", status);
    CHECK(sbxd_cgroup_oom_kills(g) == before + 1, "oom kills %ld", sbxd_cgroup_oom_kills(g));
    CHECK(sbxd_cgroup_destroy(g) == 0, "destroy");
}

static void test_pids_limit_hit(void)
{
    char why[256] = "";
    struct sbxd_limits lim = {.pids = 8};
    struct sbxd_cgroup *g = sbxd_cgroup_create(&cg, "pids", &lim, why, sizeof why);
    CHECK(g != NULL, "create: %s", why);
    CHECK(sbxd_cgroup_oom_kills(g) == 0, "a memory group without a limit still counts");
    struct held child = spawn_held(body_fork_many);
    CHECK(sbxd_cgroup_join(g, child.pid) == 0, "join: %s", strerror(errno));
    release(&child);
    int status = wait_status(child.pid, 30);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    CHECK(strcmp(read_value(group_dir(&cg, 2, "pids"), "pids.current"), "7") == 0,
          "the waiting children: %s", read_value(group_dir(&cg, 2, "pids"), "pids.current"));
    CHECK(sbxd_cgroup_destroy(g) == 0, "destroy kills the orphans too");
    CHECK(no_group_left(&cg, "pids"), "groups removed");
}

/* A crashed sbxd's groups, made by hand: one with a live, frozen process in every
 * hierarchy, one empty in the pids hierarchy only. */
static void test_sweep_removes_leftovers(void)
{
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) mkdir(group_dir(&cg, bit, "old-a"), 0755);
    mkdir(group_dir(&cg, 2, "old-b"), 0755);
    struct held child = spawn_held(body_sleep);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)child.pid);
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++)
        CHECK(write_value(group_dir(&cg, bit, "old-a"), "cgroup.procs", pid) == 0, "join by hand");
    release(&child);
    if (cg.place[0].version == 1)
        CHECK(write_value(group_dir(&cg, 0, "old-a"), "freezer.state", "FROZEN") == 0, "freeze by hand");

    CHECK(sbxd_cgroups_sweep(&cg) == 2, "two leftovers");
    CHECK(no_group_left(&cg, "old-a") && no_group_left(&cg, "old-b"), "leftovers removed");
    CHECK(killed_by_sigkill(wait_status(child.pid, 10)), "the leftover's process was killed");
    CHECK(sbxd_cgroups_sweep(&cg) == 0, "nothing left");
}

static void check_refused(const struct sbxd_cgroups *c, const char *id, struct sbxd_limits lim,
                          const char *expected)
{
    char why[256] = "";
    struct sbxd_cgroup *g = sbxd_cgroup_create(c, id, &lim, why, sizeof why);
    CHECK(g == NULL, "created %s", id);
    CHECK(strstr(why, expected) != NULL, "why: \"%s\", expected \"%s\"", why, expected);
    if (strcmp(expected, "not a valid sandbox id") != 0)
        CHECK(no_group_left(&cg, id), "nothing left for %s", id);
    sbxd_cgroup_destroy(g);
}

static void test_limit_without_controller(void)
{
    struct sbxd_cgroups partial = cg;
    partial.mask &= ~(unsigned)(SBXD_CG_MEMORY | SBXD_CG_PIDS | SBXD_CG_CPU);
    check_refused(&partial, "nomem", (struct sbxd_limits){.memory_mb = 16},
                  "memory limits need a writable memory cgroup");
    check_refused(&partial, "nopids", (struct sbxd_limits){.pids = 8},
                  "pids limits need a writable pids cgroup");
    check_refused(&partial, "nocpu", (struct sbxd_limits){.cpus = 1},
                  "cpu limits need a writable cpu cgroup");
}

static void test_bad_input_refused(void)
{
    struct sbxd_limits none = {0, 0, 0};
    check_refused(&cg, "", none, "not a valid sandbox id");
    check_refused(&cg, "..", none, "not a valid sandbox id");
    check_refused(&cg, "a/b", none, "not a valid sandbox id");
    check_refused(&cg, "x", (struct sbxd_limits){.cpus = 0.001}, "cpus must be at least 0.01");
    check_refused(&cg, "x", (struct sbxd_limits){.cpus = -1}, "cpus is out of range");
    check_refused(&cg, "x", (struct sbxd_limits){.memory_mb = -1}, "memory_mb is out of range");
    check_refused(&cg, "x", (struct sbxd_limits){.pids = -1}, "pids must not be negative");
}

/* Groups of that id exist already (not the sandbox's): refused, and left alone. */
static void test_existing_group_refused(void)
{
    char theirs[PATH_MAX];
    memcpy(theirs, group_dir(&cg, 2, "dup"), sizeof theirs);
    CHECK(mkdir(theirs, 0755) == 0, "mkdir %s", theirs);
    char why[256] = "";
    struct sbxd_limits none = {0, 0, 0};
    CHECK(sbxd_cgroup_create(&cg, "dup", &none, why, sizeof why) == NULL, "created over a group");
    CHECK(strstr(why, "the groups of sandbox dup exist already") != NULL, "why: %s", why);
    CHECK(exists(theirs), "the existing group was removed");
    CHECK(!exists(group_dir(&cg, 0, "dup")) && !exists(group_dir(&cg, 1, "dup")), "left groups behind");
    rmdir(theirs);
}

/* What a non-root sbxd sees: nothing writable, so an empty mask; a sandbox without
 * limits still works, with no groups. Runs in a child that gives up root. */
static void test_unprivileged_has_nothing(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0) _exit(10);
        struct sbxd_cgroups mine;
        if (sbxd_cgroups_open(&mine, "unprivileged", 0) != 0) _exit(11);
        char why[256] = "";
        struct sbxd_limits none = {0, 0, 0}, mem = {.memory_mb = 16};
        if (sbxd_cgroup_create(&mine, "x", &mem, why, sizeof why) != NULL) _exit(12);
        if (strcmp(why, "memory limits need a writable memory cgroup") != 0) _exit(13);
        struct sbxd_cgroup *g = sbxd_cgroup_create(&mine, "x", &none, why, sizeof why);
        if (!g || sbxd_cgroup_can_freeze(g) || sbxd_cgroup_oom_kills(g) != -1) _exit(14);
        if (sbxd_cgroup_freeze(g) != -1 || errno != ENOTSUP) _exit(15);
        if (sbxd_cgroup_join(g, getpid()) != 0 || sbxd_cgroup_destroy(g) != 0) _exit(16);
        if (sbxd_cgroups_sweep(&mine) != 0) _exit(17);
        sbxd_cgroups_close(&mine);
        _exit(0);
    }
    int status = wait_status(pid, 10);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    CHECK(!exists("/sys/fs/cgroup/pids/sbxd-unprivileged"), "a parent was made");
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* The v2 freeze and kill, on this machine's unified hierarchy (which holds no memory,
 * pids or cpu controller here), found through mountinfo and cgroup files that show
 * only it. */
static void test_v2_freeze(void)
{
    const char *unified = "/sys/fs/cgroup/unified";
    char probe[PATH_MAX];
    file_path(probe, sizeof probe, unified, "cgroup.procs");
    if (!exists(probe)) {
        printf("skipped the v2 freeze: no cgroup2 mount at %s\n", unified);
        return;
    }
    char mountinfo[64], self[64];
    snprintf(mountinfo, sizeof mountinfo, "/tmp/sbx-mountinfo-%d", (int)getpid());
    snprintf(self, sizeof self, "/tmp/sbx-cgroup-%d", (int)getpid());
    CHECK(write_file(mountinfo, "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n") == 0 &&
              write_file(self, "0::/\n") == 0,
          "fake files");
    struct sbxd_cgroups v2;
    unsigned mask = sbxd_cgroups_open_from(&v2, name, 0, mountinfo, self);
    unlink(mountinfo);
    unlink(self);
    CHECK(mask & SBXD_CG_FREEZER, "mask %#x", mask);
    CHECK(v2.place[0].version == 2, "version %d", v2.place[0].version);
    if (!(mask & SBXD_CG_FREEZER)) return;
    check_freeze_thaw(&v2, "v2freeze");
    char parent[PATH_MAX];
    memcpy(parent, v2.place[0].parent, sizeof parent);
    sbxd_cgroups_close(&v2);
    CHECK(!exists(parent), "v2 parent removed");
}

/* The first space-separated word of dir/file into out[cap]; "" when there is none. */
static const char *first_word(char *out, size_t cap, const char *dir, const char *file)
{
    const char *all = read_all(dir, file);
    size_t len = strcspn(all, " \n");
    if (len >= cap) len = 0;
    memcpy(out, all, len);
    out[len] = '\0';
    return out;
}

static int has_word(const char *dir, const char *file, const char *word)
{
    char copy[4096];
    snprintf(copy, sizeof copy, " %s ", read_all(dir, file));
    copy[strcspn(copy, "\n")] = ' ';
    char needle[80];
    snprintf(needle, sizeof needle, " %s ", word);
    return strstr(copy, needle) != NULL;
}

/* --cgroup-delegated, on the machine's real unified hierarchy, in a group made for the
 * test with a process of its own in it: the kernel refuses to hand a controller down from
 * there (EBUSY); the delegation moves the process into the leaf and enables it. The
 * controller is one the hierarchy's root hands down already, else the first it has
 * (hugetlb where memory, pids and cpu are v1), enabled for the test and disabled after.
 * Then sbxd_cgroups_open_from, delegated, with that group as sbxd's own: memory, pids and
 * cpu come out usable exactly where the group has them. */
static void test_v2_delegate(void)
{
    const char *root = exists("/sys/fs/cgroup/unified/cgroup.subtree_control") ? "/sys/fs/cgroup/unified"
                       : exists("/sys/fs/cgroup/cgroup.subtree_control")      ? "/sys/fs/cgroup"
                                                                              : NULL;
    char ctl[64];
    int enabled_here = 0;
    if (root && !*first_word(ctl, sizeof ctl, root, "cgroup.subtree_control") &&
        *first_word(ctl, sizeof ctl, root, "cgroup.controllers")) {
        char plus[80];
        snprintf(plus, sizeof plus, "+%s", ctl);
        enabled_here = write_value(root, "cgroup.subtree_control", plus) == 0;
        if (!enabled_here) ctl[0] = '\0';
    }
    if (!root || !*ctl) {
        printf("skipped the v2 delegation: no cgroup2 controller to hand down\n");
        return;
    }
    char own[PATH_MAX], leaf[PATH_MAX + 128], plus[80], pidtext[24];
    snprintf(own, sizeof own, "%s/sbx-delegate-%d", root, (int)getpid());
    snprintf(leaf, sizeof leaf, "%s/sbxd-%s@daemon", own, name);
    snprintf(plus, sizeof plus, "+%s", ctl);
    CHECK(mkdir(own, 0755) == 0, "mkdir %s: %s", own, strerror(errno));
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    snprintf(pidtext, sizeof pidtext, "%d", (int)child);
    CHECK(write_value(own, "cgroup.procs", pidtext) == 0 && pid_in_group(own, child), "child in own");
    errno = 0;
    CHECK(write_value(own, "cgroup.subtree_control", plus) < 0 && errno == EBUSY,
          "a group with a process handed %s down (errno %d)", ctl, errno);

    char leafname[SBXD_CG_NAME_MAX + 16];
    snprintf(leafname, sizeof leafname, "sbxd-%s@daemon", name);
    const char *names[] = {ctl, "nosuch"};
    CHECK(sbxd_cg_delegate(own, leafname, names, 2) == 1, "moved one process");
    CHECK(pid_in_group(leaf, child) && !pid_in_group(own, child), "the child is in the leaf");
    CHECK(has_word(own, "cgroup.subtree_control", ctl), "%s handed down: \"%s\"", ctl,
          read_value(own, "cgroup.subtree_control"));
    CHECK(sbxd_cg_delegate(own, leafname, names, 2) == 0, "a second time moves nothing");

    /* The module's own discovery, with `own` as sbxd's group in the unified hierarchy. */
    char mountinfo[64], self[64], line[PATH_MAX + 64];
    snprintf(mountinfo, sizeof mountinfo, "/tmp/sbx-mountinfo-%d", (int)getpid());
    snprintf(self, sizeof self, "/tmp/sbx-cgroup-%d", (int)getpid());
    snprintf(line, sizeof line, "41 31 0:38 / %s rw,relatime - cgroup2 cgroup2 rw\n", root);
    char selfline[PATH_MAX];
    snprintf(selfline, sizeof selfline, "0::/sbx-delegate-%d\n", (int)getpid());
    CHECK(write_file(mountinfo, line) == 0 && write_file(self, selfline) == 0, "fake files");
    struct sbxd_cgroups v2;
    unsigned mask = sbxd_cgroups_open_from(&v2, name, 1, mountinfo, self);
    unlink(mountinfo);
    unlink(self);
    CHECK(v2.moved == 0, "moved %d (the leaf holds every process already)", v2.moved);
    CHECK(mask & SBXD_CG_FREEZER, "mask %#x", mask);
    static const char *const kernel_name[] = {"memory", "pids", "cpu"};
    for (int i = 0; i < 3; i++) {
        int has = has_word(own, "cgroup.controllers", kernel_name[i]);
        CHECK(!!(mask & (SBXD_CG_MEMORY << i)) == has, "%s: mask %#x, own has it: %d", kernel_name[i], mask, has);
        CHECK(!has || has_word(own, "cgroup.subtree_control", kernel_name[i]), "%s not handed down", kernel_name[i]);
    }
    sbxd_cgroups_close(&v2);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK(rmdir(leaf) == 0 && rmdir(own) == 0, "rmdir: %s", strerror(errno));
    if (enabled_here) {
        snprintf(plus, sizeof plus, "-%s", ctl);
        CHECK(write_value(root, "cgroup.subtree_control", plus) == 0, "disable %s again", ctl);
    }
}

/* The mountinfo and cgroup lines as the kernel writes them: optional fields before "-",
 * an octal-escaped space in a mount point, a mount of a subtree (its root is the group's
 * ancestor, cut from the group's path), and a mount that does not show the group, which
 * is passed over. The hierarchy is a plain directory holding the two files that make a
 * v1 memory group usable. */
static void test_discovery_reads_the_kernel_format(void)
{
    char top[64], own[128], parent[256], procs[320], limit[320];
    snprintf(top, sizeof top, "/tmp/sbx cg-%d", (int)getpid());
    snprintf(own, sizeof own, "%s/b", top);
    snprintf(parent, sizeof parent, "%s/sbxd-%s", own, name);
    snprintf(procs, sizeof procs, "%s/cgroup.procs", parent);
    snprintf(limit, sizeof limit, "%s/memory.limit_in_bytes", parent);
    CHECK(mkdir(top, 0755) == 0 && mkdir(own, 0755) == 0 && mkdir(parent, 0755) == 0, "dirs");
    CHECK(write_file(procs, "") == 0 && write_file(limit, "") == 0, "files");

    char mountinfo[64], self[64], lines[512];
    snprintf(mountinfo, sizeof mountinfo, "/tmp/sbx-mountinfo-%d", (int)getpid());
    snprintf(self, sizeof self, "/tmp/sbx-cgroup-%d", (int)getpid());
    snprintf(lines, sizeof lines,
             "50 31 0:40 /elsewhere /nowhere rw shared:9 - cgroup cgroup rw,memory\n"
             "51 31 0:40 /a /tmp/sbx\\040cg-%d rw,relatime shared:9 master:2 - cgroup cgroup rw,memory\n",
             (int)getpid());
    CHECK(write_file(mountinfo, lines) == 0 && write_file(self, "7:pids:/\n4:memory:/a/b\n0::/\n") == 0,
          "fake files");
    struct sbxd_cgroups found;
    unsigned mask = sbxd_cgroups_open_from(&found, name, 0, mountinfo, self);
    CHECK(mask == SBXD_CG_MEMORY, "mask %#x", mask);
    CHECK(found.place[1].version == 1, "version %d", found.place[1].version);
    CHECK(strcmp(found.place[1].parent, parent) == 0, "parent \"%s\"", found.place[1].parent);
    unlink(mountinfo);
    unlink(self);
    unlink(procs);
    unlink(limit);
    rmdir(parent);
    rmdir(own);
    rmdir(top);
    CHECK(sbxd_cgroups_open_from(&found, "bad/name", 0, "/proc/self/mountinfo", "/proc/self/cgroup") == 0,
          "a bad name opens nothing");
}

int main(void)
{
    if (geteuid() != 0) {
        printf("skipped: cgroups need root\n");
        return check_report();
    }
    snprintf(name, sizeof name, "test-%d", (int)getpid());
    if (sbxd_cgroups_open(&cg, name, 0) == 0) {
        printf("skipped: no writable cgroup hierarchy\n");
        return check_report();
    }
    test_open_finds_every_controller();
    test_limits_read_back();
    test_join_then_destroy_kills();
    test_freeze_thaw();
    test_oom_kill_counted();
    test_pids_limit_hit();
    test_sweep_removes_leftovers();
    test_limit_without_controller();
    test_bad_input_refused();
    test_existing_group_refused();
    test_unprivileged_has_nothing();
    test_v2_freeze();
    test_v2_delegate();
    test_discovery_reads_the_kernel_format();

    char parents[SBXD_CG_COUNT][PATH_MAX];
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) memcpy(parents[bit], cg.place[bit].parent, PATH_MAX);
    sbxd_cgroups_close(&cg);
    for (int bit = 0; bit < SBXD_CG_COUNT; bit++) CHECK(!exists(parents[bit]), "parent %s stayed", parents[bit]);
    CHECK(!sbxd_cgroups_have(&cg, SBXD_CG_MEMORY), "closed");
    return check_report();
}
