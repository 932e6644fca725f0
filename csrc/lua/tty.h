/* The local terminal of a command line (`sbx spawn -t`): raw mode, left on every way out
 * of the process that can run code, its size, and its resizes (SIGWINCH). One terminal of
 * a process is in raw mode at a time. No Lua here (l_tty.c is the binding). */
#ifndef SBX_TTY_H
#define SBX_TTY_H
#include <stddef.h>

/* Puts terminal `fd` in raw mode (no echo, no line editing, no signals from keys: ^C
 * goes through as a byte). Until sbx_tty_restore, SIGHUP, SIGTERM, SIGQUIT and SIGPIPE
 * (those whose disposition is the default: an ignored one stays ignored) restore the
 * terminal before they end the process, and SIGWINCH is noted for sbx_tty_resized.
 * Returns 0, or -1 with a message in err (not a terminal, one already raw). */
int sbx_tty_raw(int fd, char *err, size_t errlen);
/* The terminal's settings and the signal handlers as they were; idempotent. */
void sbx_tty_restore(void);
/* 1 when a SIGWINCH came since the last call (while raw), else 0. */
int sbx_tty_resized(void);
/* The size of terminal `fd`: 0, or -1 when it is not a terminal or has no size. */
int sbx_tty_size(int fd, int *cols, int *rows);

#endif
