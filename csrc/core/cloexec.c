#include "cloexec.h"

#include <fcntl.h>
#include <sys/resource.h>

void sbx_free_fds_note(struct sbx_free_fds *f)
{
    struct rlimit rl;
    int limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20 ? (int)rl.rlim_cur : 1 << 20;
    f->n = 0;
    for (int fd = 0; fd < limit && f->n < SBX_CLOEXEC_WATCH; fd++)
        if (fcntl(fd, F_GETFD) < 0) f->fd[f->n++] = fd;
}

void sbx_free_fds_cloexec(const struct sbx_free_fds *f)
{
    for (int i = 0; i < f->n; i++) {
        int flags = fcntl(f->fd[i], F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(f->fd[i], F_SETFD, flags | FD_CLOEXEC);
    }
}
