/* Descriptors a library opens without close-on-exec (curl 7.88's multi handle makes its
 * wakeup socketpair without it): marked afterwards, so that the children a host starts
 * hold none of the client's. */
#ifndef SBX_CLOEXEC_H
#define SBX_CLOEXEC_H

#define SBX_CLOEXEC_WATCH 8

/* The lowest descriptor numbers not open now: the next ones opened get those (POSIX:
 * the lowest free number), so a call that opens a few gets some of these. */
struct sbx_free_fds {
    int fd[SBX_CLOEXEC_WATCH];
    int n;
};

void sbx_free_fds_note(struct sbx_free_fds *f);
/* Sets close-on-exec on every noted number that is open now. */
void sbx_free_fds_cloexec(const struct sbx_free_fds *f);

#endif
