/* The local terminal and descriptors for the sbx command line (`sbx spawn`; tty.c):
 *
 *   core.tty_raw(fd)     --> tty | nil, message: the terminal in raw mode until
 *                            tty:restore() (also close, __close, __gc; idempotent)
 *   tty:resized()        --> true once after each resize of the terminal (SIGWINCH)
 *   core.tty_size(fd)    --> cols, rows | nil (not a terminal)
 *   core.wait_readable(fds, timeout) --> an array of the descriptors of `fds` that are
 *                            readable; empty when `timeout` seconds passed or a signal
 *                            came (a resize, ^C) first
 *   core.read_fd(fd, max) --> at most max bytes, "" at end of file | nil, message
 *   core.ignore_sigpipe() -- a write whose reader is gone fails (EPIPE), the process lives
 */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include "binding.h"
#include "l_tty.h"
#include "tty.h"

#define SBXL_TTY_MT "sbx.tty"
#define MAX_WAIT_FDS 8
#define MAX_READ (1 << 20)

/* The userdata: whether it still holds the raw mode. */
struct sbxl_tty {
    int raw;
};

static int l_tty_raw(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    struct sbxl_tty *t = lua_newuserdatauv(L, sizeof *t, 0);
    t->raw = 0;
    luaL_setmetatable(L, SBXL_TTY_MT);
    char err[128];
    if (sbx_tty_raw(fd, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    t->raw = 1;
    return 1;
}

static int tty_restore(lua_State *L)
{
    struct sbxl_tty *t = luaL_checkudata(L, 1, SBXL_TTY_MT);
    if (t->raw) sbx_tty_restore();
    t->raw = 0;
    return 0;
}

static int tty_resized(lua_State *L)
{
    struct sbxl_tty *t = luaL_checkudata(L, 1, SBXL_TTY_MT);
    lua_pushboolean(L, t->raw && sbx_tty_resized());
    return 1;
}

static int tty_tostring(lua_State *L)
{
    struct sbxl_tty *t = luaL_checkudata(L, 1, SBXL_TTY_MT);
    lua_pushstring(L, t->raw ? "sbx.tty (raw)" : "sbx.tty (restored)");
    return 1;
}

static int l_tty_size(lua_State *L)
{
    int cols, rows;
    if (sbx_tty_size((int)luaL_checkinteger(L, 1), &cols, &rows) != 0) return lua_pushnil(L), 1;
    lua_pushinteger(L, cols);
    lua_pushinteger(L, rows);
    return 2;
}

/* poll's timeout in milliseconds, rounded up: a wait never ends before its time. */
static int poll_ms(double seconds)
{
    if (seconds >= 1e6) return 1000 * 1000 * 1000;
    int ms = (int)(seconds * 1000);
    return ms < seconds * 1000 ? ms + 1 : ms;
}

static int l_wait_readable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double timeout = luaL_checknumber(L, 2);
    luaL_argcheck(L, timeout >= 0, 2, "must be >= 0");
    struct pollfd p[MAX_WAIT_FDS];
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n <= MAX_WAIT_FDS, 1, "at most 8 descriptors");
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        p[i].fd = (int)luaL_checkinteger(L, -1);
        p[i].events = POLLIN;
        p[i].revents = 0;
        lua_pop(L, 1);
    }
    int r = poll(p, (nfds_t)n, poll_ms(timeout));
    if (r < 0 && errno != EINTR) return luaL_error(L, "poll: %s", strerror(errno));
    lua_newtable(L);
    lua_Integer k = 0;
    for (lua_Integer i = 0; r > 0 && i < n; i++) {
        if (!p[i].revents) continue; /* POLLHUP, POLLERR: a read says what happened */
        lua_pushinteger(L, p[i].fd);
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

static int l_read_fd(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, max > 0 && max <= MAX_READ, 2, "must be 1..1048576");
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, (size_t)max);
    ssize_t got = read(fd, buf, (size_t)max);
    if (got < 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    luaL_pushresultsize(&b, (size_t)got);
    return 1;
}

/* core.ignore_sigpipe(): a write to a pipe or socket whose reader is gone fails with EPIPE
 * instead of ending the process, so the command line can tell `sbx run ID yes | head`
 * from a failure and kill its command at once. */
static int l_ignore_sigpipe(lua_State *L)
{
    (void)L;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static const luaL_Reg METHODS[] = {
    {"restore", tty_restore}, {"close", tty_restore}, {"resized", tty_resized}, {NULL, NULL}};

static const struct sbxl_class TTY_CLASS = {
    .name = SBXL_TTY_MT, .close = tty_restore, .tostring = tty_tostring, .methods = METHODS};

static const luaL_Reg FUNCS[] = {
    {"tty_raw", l_tty_raw}, {"tty_size", l_tty_size}, {"wait_readable", l_wait_readable},
    {"read_fd", l_read_fd}, {"ignore_sigpipe", l_ignore_sigpipe}, {NULL, NULL}};

void sbxl_open_tty(lua_State *L, const struct sbxl_module *m)
{
    sbxl_newclass(L, m, &TTY_CLASS);
    sbxl_setfuncs(L, m, FUNCS);
}
