/* Names and limits both sides of the sbx protocol agree on (docs/PROTOCOL.md). */
#ifndef SBX_PROTOCOL_H
#define SBX_PROTOCOL_H

#define SBX_VERSION "0.1.0"

#define SBX_EV_START  "start"
#define SBX_EV_STDOUT "stdout"
#define SBX_EV_STDERR "stderr"
#define SBX_EV_END    "end"

#define SBX_ERR_INVALID   "InvalidArgumentError"
#define SBX_ERR_AUTH      "AuthenticationError"
#define SBX_ERR_NOT_FOUND "NotFoundError"
#define SBX_ERR_CONFLICT  "ConflictError"
#define SBX_ERR_SANDBOX   "SandboxError"

#define SBX_DEFAULT_MAX_BODY   (16u * 1024u * 1024u)
#define SBX_DEFAULT_KEEPALIVE  15.0
#define SBX_DEFAULT_LIFETIME   300.0
#define SBX_ID_PREFIX          "sbx_"

/* sbxd's caps: sandboxes alive, and processes started and not yet reaped (all sandboxes). */
#define SBX_DEFAULT_MAX_SANDBOXES 1000
#define SBX_DEFAULT_MAX_PROCS     10000
/* A sandbox's process bound without create{pids}: one fork bomb stays in its sandbox. */
#define SBX_DEFAULT_PIDS          1024

/* Output logs: one process's bound (--max-log), all of them together (--max-logs), how
 * long a foreground process waits for a reader to come back (--resume-grace), and how
 * many exited background processes a sandbox keeps. */
#define SBX_DEFAULT_MAX_LOG       (16ull * 1024 * 1024)
#define SBX_DEFAULT_MAX_LOGS      (512ull * 1024 * 1024)
#define SBX_DEFAULT_RESUME_GRACE  10.0
#define SBX_MAX_KEPT_BACKGROUND   256

/* Binary frames (Accept: application/vnd.sbx.frames): type u8, length u32 big-endian,
 * payload. An output frame's payload is its offset after (u64 big-endian) and at most
 * SBX_FRAME_DATA_MAX bytes. */
#define SBX_FRAMES_TYPE "application/vnd.sbx.frames"
#define SBX_FRAME_STDOUT 1
#define SBX_FRAME_STDERR 2
#define SBX_FRAME_START 3
#define SBX_FRAME_END 4
#define SBX_FRAME_KEEPALIVE 5
#define SBX_FRAME_DATA_MAX (1024u * 1024u)

/* Timeouts, in seconds: a command's or a request's 0 means none; a sandbox's lifetime is
 * > 0. A finite timeout longer than this is armed as this long (about 31 million years):
 * a libuv timer's due time is a uint64_t of milliseconds on the loop's clock, and 1e18 ms
 * added to that clock stays far below its overflow. */
#define SBX_TIMEOUT_MAX 1e15

/* A process's tag (start{tag}, returned by the process list), in bytes at most; and how
 * much of its cmd the list returns. */
#define SBX_MAX_TAG 256u
#define SBX_LIST_CMD_MAX 4096u

/* A sandbox's limits, at most (create{memory_mb, pids, cpus}): 1 TiB, the kernel's
 * largest pid_max, and 1024 CPUs' worth of time. */
#define SBX_MAX_MEMORY_MB (1024L * 1024L)
#define SBX_MAX_PIDS 4194304L
#define SBX_MAX_CPUS 1024

/* What execve takes (Linux): one argument or environment string, its NUL included, is at
 * most MAX_ARG_STRLEN (32 pages); all of them together, each counted with its NUL and its
 * pointer, at most a quarter of the stack limit (2 MiB with the usual 8 MiB). sbxd refuses
 * beyond these bounds with 400 before it starts anything. */
#define SBX_MAX_ARG_STRLEN (128u * 1024u)
#define SBX_MAX_EXEC_TOTAL (1024u * 1024u)

#endif
