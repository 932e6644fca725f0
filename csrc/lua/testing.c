/* sbx.testing: what only the specs use, built beside sbx.core (build/sbx/testing.so) and
 * never installed.
 *
 *   testing.kill(daemon, signal) --> true when the signal was sent to that sbxd
 *   testing.getpid()             --> this process's pid
 */
#include <lauxlib.h>
#include <lua.h>
#include <signal.h>
#include <unistd.h>
#include "binding.h"
#include "daemon.h"

/* Only while the child is not reaped: after that its pid may be another process's. */
static int l_kill(lua_State *L)
{
    struct sbx_daemon *d = luaL_checkudata(L, 1, SBXL_DAEMON_MT);
    lua_Integer sig = luaL_checkinteger(L, 2);
    luaL_argcheck(L, sig > 0 && sig < 65, 2, "must be a signal number");
    lua_pushboolean(L, !d->reaped && d->pid > 0 && kill(d->pid, (int)sig) == 0);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

static const luaL_Reg FUNCS[] = {{"kill", l_kill}, {"getpid", l_getpid}, {NULL, NULL}};

SBXL_EXPORT int luaopen_sbx_testing(lua_State *L);

int luaopen_sbx_testing(lua_State *L)
{
    luaL_newlib(L, FUNCS);
    return 1;
}
