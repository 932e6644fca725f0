#ifndef SBX_INIT_PTY_H
#define SBX_INIT_PTY_H
#include <stdint.h>

/* A new pty of the sandbox's own devpts, both ends close-on-exec and neither the init's
 * controlling terminal; rows and cols set unless both are 0. 0, or an errno. */
int pty_open(uint16_t rows, uint16_t cols, int *master, int *slave);

#endif
