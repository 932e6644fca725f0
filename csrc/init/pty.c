#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "pty.h"

static int open_slave(int master, uint16_t rows, uint16_t cols)
{
    char name[128];
    if (grantpt(master) != 0 || unlockpt(master) != 0) return -1;
    errno = ptsname_r(master, name, sizeof name);
    if (errno) return -1;
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    if ((rows || cols) && ioctl(master, TIOCSWINSZ, &ws) != 0) return -1;
    return open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

int pty_open(uint16_t rows, uint16_t cols, int *master, int *slave)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*master < 0) return errno;
    *slave = open_slave(*master, rows, cols);
    if (*slave >= 0) return 0;
    int err = errno;
    close(*master);
    *master = -1;
    return err;
}
