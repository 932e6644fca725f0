/* The payload holds 1 + argc + envc NUL-terminated strings, payload_len bytes in all:
 * the cwd (absolute), the arguments, the environment. sbxd is trusted, but a payload that
 * is not exactly that fails the start instead of running something else. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "payload.h"
#include "protocol.h"

/* What sbxd sends at most: a cwd, and what execve takes of arguments and environment. */
#define PAYLOAD_MAX ((uint64_t)PATH_MAX + SBX_MAX_EXEC_TOTAL)

static int read_all(int fd, char *buf, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return errno;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len) return EINVAL;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EINVAL; /* shorter than it said */
        done += (size_t)n;
    }
    return 0;
}

/* Points out[0..n-1] at the strings from *pos on; *pos moves past them. */
static void split(char *bytes, size_t *pos, char **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = bytes + *pos;
        *pos += strlen(out[i]) + 1;
    }
    out[n] = NULL;
}

static size_t count_nuls(const char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = buf; (p = memchr(p, '\0', len - (size_t)(p - buf))); p++) n++;
    return n;
}

/* The counts make sense before anything is allocated for them: each string takes one
 * byte at least. */
static int sizes_fit(const struct sbx_init_start *m)
{
    uint64_t strings = 1 + (uint64_t)m->argc + m->envc;
    return m->argc >= 1 && m->payload_len <= PAYLOAD_MAX && strings <= m->payload_len;
}

int payload_read(int fd, const struct sbx_init_start *m, struct payload *p)
{
    memset(p, 0, sizeof *p);
    if (!sizes_fit(m)) return EINVAL;
    size_t len = m->payload_len;
    p->bytes = malloc(len);
    p->argv = calloc((size_t)m->argc + 1, sizeof *p->argv);
    p->envp = calloc((size_t)m->envc + 1, sizeof *p->envp);
    int err = !p->bytes || !p->argv || !p->envp ? ENOMEM : read_all(fd, p->bytes, len);
    if (!err && (p->bytes[len - 1] != '\0' || count_nuls(p->bytes, len) != 1 + (uint64_t)m->argc + m->envc))
        err = EINVAL;
    if (!err && p->bytes[0] != '/') err = EINVAL; /* the cwd is absolute */
    if (err) {
        payload_free(p);
        return err;
    }
    size_t pos = strlen(p->bytes) + 1;
    p->cwd = p->bytes;
    split(p->bytes, &pos, p->argv, m->argc);
    split(p->bytes, &pos, p->envp, m->envc);
    return 0;
}

void payload_free(struct payload *p)
{
    free(p->bytes);
    free(p->argv);
    free(p->envp);
    memset(p, 0, sizeof *p);
}
