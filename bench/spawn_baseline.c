/* Baseline for bench/run_latency.lua: the machine's own cost of what run("true") does at
 * its core — posix_spawn of /bin/sh -c true with a stdout pipe read to EOF, then reaped.
 *
 *   spawn_baseline N    runs N spawns, prints one duration in microseconds per line
 *   spawn_baseline -    serves: for each line N read on stdin, runs N spawns and prints
 *                       their durations (flushed), so a bench can interleave baseline
 *                       spawns with its own runs one by one
 *   spawn_baseline - PROGRAM ARG...   the same, spawning PROGRAM ARG... instead (by
 *                       path), e.g. a bare bwrap for bench/sandbox_start.lua */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static char *default_argv[] = {"/bin/sh", "-c", "true", NULL};
static char **command = default_argv;

static int spawn_true(void)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    pid_t pid;
    int rc = posix_spawn(&pid, command[0], &fa, NULL, command, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char buf[256];
    while (rc == 0 && read(fds[0], buf, sizeof buf) > 0) {}
    close(fds[0]);
    int status;
    if (rc == 0) waitpid(pid, &status, 0);
    return rc;
}

static int run_timed(int n)
{
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (spawn_true() != 0) return 1;
        printf("%.1f\n", now_us() - t0);
    }
    return fflush(stdout) != 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-") == 0) {
        int n;
        if (argc > 2) command = argv + 2;
        while (scanf("%d", &n) == 1)
            if (run_timed(n) != 0) return 1;
        return 0;
    }
    return run_timed(argc > 1 ? atoi(argv[1]) : 500);
}
