#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "pty.h"

int sbxd_pty_resize(int fd, unsigned rows, unsigned cols)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    return ioctl(fd, TIOCSWINSZ, &ws);
}

int sbxd_pty_open(unsigned rows, unsigned cols, int *master, int *slave)
{
    char name[128];
    *slave = -1;
    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*master < 0) return -1;
    int e = 0;
    if (grantpt(*master) != 0 || unlockpt(*master) != 0 || sbxd_pty_resize(*master, rows, cols) != 0) e = errno;
    else if ((e = ptsname_r(*master, name, sizeof name)) == 0 &&
             (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        e = errno;
    if (e == 0) return 0;
    close(*master);
    *master = -1;
    errno = e;
    return -1;
}
