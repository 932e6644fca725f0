/* Baseline for bench/run_latency.lua: the machine's own cost of what run("true") does at
 * its core — posix_spawn of /bin/sh -c true with a stdout pipe read to EOF, then reaped.
 * Prints one duration in microseconds per line. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int spawn_true(void)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {"/bin/sh", "-c", "true", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char buf[256];
    while (rc == 0 && read(fds[0], buf, sizeof buf) > 0) {}
    close(fds[0]);
    int status;
    if (rc == 0) waitpid(pid, &status, 0);
    return rc;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (spawn_true() != 0) return 1;
        printf("%.1f\n", now_us() - t0);
    }
    return 0;
}
