/* Terminals sbxd opens itself: a command's pty where sbxd runs it on the host (isolation
 * none; a sandbox's init opens its commands' ptys inside), and any pty's size. */
#ifndef SBXD_PTY_H
#define SBXD_PTY_H

/* A new pty, both ends close-on-exec and neither sbxd's controlling terminal, of `rows`
 * by `cols`. 0, or -1 with errno set (nothing left open). */
int sbxd_pty_open(unsigned rows, unsigned cols, int *master, int *slave);
/* Sets the size of the terminal whose master is `fd` (the kernel sends its foreground
 * process group SIGWINCH). 0, or -1 with errno set. */
int sbxd_pty_resize(int fd, unsigned rows, unsigned cols);

#endif
