/* The channel between sbxd and the init of one sandbox: a SOCK_SEQPACKET socketpair,
 * one message per packet, each a fixed-size struct of native-endian fields (both ends
 * run on the same machine). Descriptors ride along as SCM_RIGHTS.
 *
 * sbxd keeps all I/O: it makes a command's pipes and hands their far ends to the init
 * with the command; the init forks it inside the sandbox and answers its pid (the pid
 * inside the sandbox), later its wait status. The init trusts sbxd. sbxd does not trust
 * the init: a command running as the sandbox's root can take it over, so every message
 * read from an init is checked (initmsg.h) before it is used. */
#ifndef SBX_INITPROTO_H
#define SBX_INITPROTO_H
#include <stdint.h>

/* The init's argv[1]: the number of the channel's descriptor; argv[2], optional, its
 * RLIMIT_NPROC (the sandbox's process bound where no pids cgroup keeps it). */
#define SBX_INIT_FD 3

enum sbx_init_type {
    /* sbxd -> init */
    SBX_INIT_START = 1,     /* struct sbx_init_start */
    SBX_INIT_SIGNAL = 2,    /* struct sbx_init_signal */
    SBX_INIT_STOP_ALL = 3,  /* struct sbx_init_signal, pid and sig 0: SIGSTOP every process but
                               the init (the pause where no freezer cgroup can be had) */
    SBX_INIT_CONT_ALL = 4,  /* the same, SIGCONT */
    /* init -> sbxd: struct sbx_init_reply */
    SBX_INIT_READY = 16,    /* once, first: the init runs; pid is its own (1) */
    SBX_INIT_STARTED = 17,  /* seq, pid; with SBX_START_PTY one descriptor: the pty master */
    SBX_INIT_FAILED = 18,   /* seq, step, err: the command did not start */
    SBX_INIT_EXITED = 19,   /* pid, status (a wait status) of a command it started */
};

/* sbx_init_start.flags */
#define SBX_START_PTY   1u  /* stdin/stdout/stderr on a new pty opened inside; no pipes sent */
#define SBX_START_STDIN 2u  /* a stdin pipe is sent; without it the command reads /dev/null */

/* A command. Descriptors, in this order: the payload (a sealed memfd), then stdin (only
 * with SBX_START_STDIN), stdout and stderr (not with SBX_START_PTY). The payload holds
 * NUL-terminated strings: the cwd (absolute), argc arguments, envc environment entries
 * ("NAME=value"); payload_len bytes in all. */
struct sbx_init_start {
    uint32_t type, seq;      /* seq: sbxd's number for this start, echoed in the answer */
    uint32_t uid, gid;       /* inside the sandbox; the supplementary groups are [gid] */
    uint32_t flags;
    uint16_t rows, cols;     /* the pty's size, with SBX_START_PTY */
    uint32_t argc, envc, payload_len;
};

/* A signal to the process group of a command the init started (its pid leads it). */
struct sbx_init_signal {
    uint32_t type, seq;
    int32_t pid, sig;
};

/* Why a command did not start (sbx_init_reply.step). */
enum sbx_start_step {
    SBX_STEP_SETUP = 1,     /* fork, descriptors, session */
    SBX_STEP_CWD = 2,       /* chdir */
    SBX_STEP_USER = 3,      /* setgroups, setgid, setuid */
    SBX_STEP_EXEC = 4,      /* execve */
    SBX_STEP_PTY = 5,       /* opening the pty */
    SBX_STEP_PAYLOAD = 6,   /* the start message itself was unreadable */
};

struct sbx_init_reply {
    uint32_t type, seq;
    int32_t pid;             /* STARTED, EXITED: the command's pid in the sandbox */
    int32_t status;          /* EXITED: its wait status */
    int32_t step, err;       /* FAILED: an sbx_start_step and an errno */
};

#endif
