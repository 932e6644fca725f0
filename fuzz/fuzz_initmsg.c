/* libFuzzer target: the decoder of what a sandbox's init sends sbxd. The first byte says
 * how many descriptors came with the message (0 to 3), the rest is the message. A valid
 * one must be what initmsg.h promises, and decoding what came out must give it again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "initmsg.h"

static const int fds[3] = {100, 101, 102};

static void check_valid(const struct sbx_init_reply *r, size_t nfds, int fd)
{
    if (fd != (nfds == 1 ? fds[0] : -1)) abort();
    if (nfds > 1 || (nfds == 1 && r->type != SBX_INIT_STARTED)) abort();
    switch (r->type) {
    case SBX_INIT_READY:
        if (r->pid <= 0 || r->seq || r->status || r->step || r->err) abort();
        break;
    case SBX_INIT_STARTED:
        if (r->pid <= 0 || r->status || r->step || r->err) abort();
        break;
    case SBX_INIT_FAILED:
        if (r->pid || r->status || r->step < SBX_STEP_SETUP || r->step > SBX_STEP_PAYLOAD) abort();
        if (r->err <= 0 || r->err >= 4096) abort();
        break;
    case SBX_INIT_EXITED:
        if (r->pid <= 0 || r->seq || r->step || r->err) abort();
        if (!(WIFEXITED(r->status) || WIFSIGNALED(r->status))) abort();
        if (WIFSTOPPED(r->status) || WIFCONTINUED(r->status)) abort();
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t nfds = data[0] % 4;
    struct sbx_init_reply out, again;
    int fd = 7, fd2;
    int rc = sbxd_initmsg_decode(data + 1, size - 1, fds, nfds, &out, &fd);
    if (rc != 0 && (rc != -1 || fd != -1)) abort();
    if (rc != 0) return 0;
    if (size - 1 != sizeof out) abort();
    check_valid(&out, nfds, fd);
    if (sbxd_initmsg_decode(&out, sizeof out, fds, nfds, &again, &fd2) != 0) abort();
    if (memcmp(&out, &again, sizeof out) != 0 || fd2 != fd) abort();
    return 0;
}
