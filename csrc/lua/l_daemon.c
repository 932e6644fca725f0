/* The "sbx.daemon" userdata: an sbxd child that dies with this process (core/daemon.c). */
#include <signal.h>
#include <stdlib.h>
#include "binding.h"
#include "daemon.h"

struct l_daemon {
    struct sbx_daemon d;
};

static struct l_daemon *check_daemon(lua_State *L)
{
    return luaL_checkudata(L, 1, SBXL_DAEMON_MT);
}

/* core.spawn_daemon(path, args, ready_timeout) -> daemon, ready_line | nil, message */
int sbxl_spawn_daemon(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    double timeout = luaL_optnumber(L, 3, 10);
    luaL_argcheck(L, timeout > 0, 3, "must be a positive number of seconds");
    size_t n = lua_rawlen(L, 2);
    const char **args = lua_newuserdatauv(L, (n + 1) * sizeof *args, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, 2, "array of strings");
        args[i] = lua_tostring(L, -1); /* stays alive in the args table */
        lua_pop(L, 1);
    }
    struct l_daemon *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->d.pid = -1, u->d.parent_fd = -1, u->d.reaped = 1;
    luaL_setmetatable(L, SBXL_DAEMON_MT);
    char line[512], err[512];
    if (sbx_daemon_spawn(&u->d, path, args, n, timeout, line, sizeof line, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushstring(L, line);
    return 2;
}

static int daemon_pid(lua_State *L)
{
    lua_pushinteger(L, check_daemon(L)->d.pid);
    return 1;
}

/* stop([timeout]), __gc, __close: idempotent; never raises. */
static int daemon_stop(lua_State *L)
{
    struct l_daemon *u = check_daemon(L);
    double timeout = lua_type(L, 2) == LUA_TNUMBER ? lua_tonumber(L, 2) : 2.0;
    sbx_daemon_stop(&u->d, timeout);
    lua_pushboolean(L, 1);
    return 1;
}

/* kill([signal]): for tests that stop, continue or kill sbxd. */
static int daemon_kill(lua_State *L)
{
    struct l_daemon *u = check_daemon(L);
    lua_Integer sig = luaL_optinteger(L, 2, SIGKILL);
    luaL_argcheck(L, sig > 0 && sig < 65, 2, "must be a signal number");
    lua_pushboolean(L, !u->d.reaped && kill(u->d.pid, (int)sig) == 0);
    return 1;
}

void sbxl_open_daemon(lua_State *L, int loop_idx, int anchors_idx)
{
    static const luaL_Reg META[] = {{"__gc", daemon_stop}, {"__close", daemon_stop}, {NULL, NULL}};
    static const luaL_Reg METHODS[] = {
        {"pid", daemon_pid}, {"stop", daemon_stop}, {"kill", daemon_kill}, {NULL, NULL}};
    luaL_newmetatable(L, SBXL_DAEMON_MT);
    sbxl_setfuncs(L, META, loop_idx, anchors_idx);
    lua_newtable(L);
    sbxl_setfuncs(L, METHODS, loop_idx, anchors_idx);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
