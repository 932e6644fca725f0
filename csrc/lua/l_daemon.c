/* The "sbx.daemon" userdata: an sbxd child that dies with this process (core/daemon.c). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "binding.h"
#include "daemon.h"

struct l_daemon {
    struct sbx_daemon d;
};

static struct l_daemon *check_daemon(lua_State *L)
{
    return luaL_checkudata(L, 1, SBXL_DAEMON_MT);
}

/* Checks that the table at `idx` is an array of strings; returns them in a userdata left
 * on the stack (the strings stay alive in the table, which the caller keeps). */
static const char **string_array(lua_State *L, int idx, size_t *n)
{
    *n = lua_rawlen(L, idx);
    const char **items = lua_newuserdatauv(L, (*n + 1) * sizeof *items, 0);
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, idx, "array of strings");
        items[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return items;
}

/* Turns the optional table {NAME = value} at `idx` into "NAME=value" strings, kept alive
 * in a table left on the stack under the userdata that holds the array of them. */
static const char **env_entries(lua_State *L, int idx, size_t *n)
{
    lua_newtable(L);
    int keep = lua_gettop(L);
    *n = 0;
    if (!lua_isnoneornil(L, idx)) {
        luaL_checktype(L, idx, LUA_TTABLE);
        for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
            luaL_argexpected(L, lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING, idx,
                             "table of string names to string values");
            const char *name = lua_tostring(L, -2);
            luaL_argcheck(L, *name && !strchr(name, '='), idx, "variable names are non-empty, without '='");
            lua_pushfstring(L, "%s=%s", name, lua_tostring(L, -1));
            lua_rawseti(L, keep, (lua_Integer)++*n);
        }
    }
    return string_array(L, keep, n);
}

/* core.spawn_daemon(path, args, ready_timeout, env) -> daemon, ready_line | nil, message
 * env (optional): {NAME = value} set over this process's environment for sbxd. */
int sbxl_spawn_daemon(lua_State *L)
{
    lua_settop(L, 4); /* what follows pushes above the arguments */
    struct sbx_daemon_cmd cmd = {.path = luaL_checkstring(L, 1)};
    luaL_checktype(L, 2, LUA_TTABLE);
    double timeout = luaL_optnumber(L, 3, 10);
    luaL_argcheck(L, timeout > 0, 3, "must be a positive number of seconds");
    cmd.args = string_array(L, 2, &cmd.nargs);
    cmd.env = env_entries(L, 4, &cmd.nenv);
    struct l_daemon *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->d.pid = -1, u->d.parent_fd = -1, u->d.reaped = 1;
    luaL_setmetatable(L, SBXL_DAEMON_MT);
    char line[512], err[512];
    if (sbx_daemon_spawn(&u->d, &cmd, timeout, line, sizeof line, err, sizeof err) != 0) {
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

/* alive(): whether sbxd still runs (it is reaped once it has exited). */
static int daemon_alive(lua_State *L)
{
    lua_pushboolean(L, sbx_daemon_alive(&check_daemon(L)->d));
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
        {"pid", daemon_pid},   {"alive", daemon_alive}, {"stop", daemon_stop},
        {"kill", daemon_kill}, {NULL, NULL}};
    luaL_newmetatable(L, SBXL_DAEMON_MT);
    sbxl_setfuncs(L, META, loop_idx, anchors_idx);
    lua_newtable(L);
    sbxl_setfuncs(L, METHODS, loop_idx, anchors_idx);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
