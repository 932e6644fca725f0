/* Raw mode of the local terminal, restored however the process ends (tty.h). */
#include "tty.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The signals that end a process by default and that a program on a terminal may get
 * while raw: each restores the terminal first. SIGINT is not among them: lua5.4 handles
 * it (an error in Lua, whose unwinding restores the terminal), and a raw terminal sends
 * ^C as a byte. */
static const int ENDING[] = {SIGHUP, SIGTERM, SIGQUIT, SIGPIPE};
#define NENDING (sizeof ENDING / sizeof ENDING[0])

/* Read by the signal handlers: the raw terminal (-1: none) and its settings before. */
static volatile sig_atomic_t raw_fd = -1;
static struct termios saved;
static volatile sig_atomic_t resized;

static struct sigaction old_ending[NENDING], old_winch;
static int replaced[NENDING];

/* The terminal as it was, then the signal's default action (the process ends as it
 * would have). Only async-signal-safe calls. */
static void on_ending(int sig)
{
    if (raw_fd >= 0) tcsetattr(raw_fd, TCSANOW, &saved);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig); /* blocked while this handler runs: delivered as it returns */
}

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

/* Handlers for the ending signals still at their default, and for SIGWINCH (no
 * SA_RESTART: a wait for input returns at a resize). */
static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_ending;
    for (size_t i = 0; i < NENDING; i++) {
        replaced[i] = 0;
        if (sigaction(ENDING[i], NULL, &old_ending[i]) == 0 && old_ending[i].sa_handler == SIG_DFL)
            replaced[i] = sigaction(ENDING[i], &sa, NULL) == 0;
    }
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, &old_winch);
}

int sbx_tty_raw(int fd, char *err, size_t errlen)
{
    if (raw_fd >= 0) return snprintf(err, errlen, "a terminal is in raw mode already"), -1;
    struct termios raw;
    if (tcgetattr(fd, &saved) != 0) return snprintf(err, errlen, "%s", strerror(errno)), -1;
    raw = saved;
    cfmakeraw(&raw);
    raw_fd = fd;
    resized = 0;
    install_handlers(); /* before the switch: no moment raw without them */
    if (tcsetattr(fd, TCSADRAIN, &raw) != 0) {
        int e = errno;
        sbx_tty_restore();
        return snprintf(err, errlen, "%s", strerror(e)), -1;
    }
    return 0;
}

void sbx_tty_restore(void)
{
    if (raw_fd < 0) return;
    tcsetattr(raw_fd, TCSADRAIN, &saved);
    raw_fd = -1;
    for (size_t i = 0; i < NENDING; i++)
        if (replaced[i]) sigaction(ENDING[i], &old_ending[i], NULL), replaced[i] = 0;
    sigaction(SIGWINCH, &old_winch, NULL);
}

int sbx_tty_resized(void)
{
    if (!resized) return 0;
    resized = 0;
    return 1;
}

int sbx_tty_size(int fd, int *cols, int *rows)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) return -1;
    *cols = ws.ws_col, *rows = ws.ws_row;
    return 0;
}
