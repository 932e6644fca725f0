/* The "sbx.daemon" userdata: an sbxd child that dies with this process (daemon.c).
 *
 *   core.spawn_daemon(path, args, ready_timeout, env, nicer) --> daemon, ready_line | nil, message
 *   daemon:pid(), daemon:alive()
 *   daemon:stop([timeout]) closes sbxd's parent pipe and waits up to timeout seconds
 *        (default 2) for it to exit, then kills it
 *   daemon:close() (also __close, __gc) closes the pipe and never waits: sbxd cleans up
 *        and exits by itself at that EOF
 */
#include <string.h>
#include "binding.h"
#include "daemon.h"
#include "l_daemon.h"

/* The userdata is the struct sbx_daemon itself. */
static struct sbx_daemon *check_daemon(lua_State *L)
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

/* core.spawn_daemon(path, args, ready_timeout, env, nicer) -> daemon, ready_line | nil, message
 * env (optional): {NAME = value} set over this process's environment for sbxd.
 * nicer (optional, 0..19, default 0): how much nicer than this process sbxd runs. */
static int l_spawn_daemon(lua_State *L)
{
    lua_settop(L, 5); /* what follows pushes above the arguments */
    struct sbx_daemon_cmd cmd = {.path = luaL_checkstring(L, 1)};
    lua_Integer nicer = luaL_optinteger(L, 5, 0);
    luaL_argcheck(L, nicer >= 0 && nicer <= 19, 5, "must be an integer from 0 to 19");
    cmd.nicer = (int)nicer;
    luaL_checktype(L, 2, LUA_TTABLE);
    double timeout = luaL_optnumber(L, 3, 10);
    luaL_argcheck(L, timeout > 0, 3, "must be a positive number of seconds");
    cmd.args = string_array(L, 2, &cmd.nargs);
    cmd.env = env_entries(L, 4, &cmd.nenv);
    struct sbx_daemon *d = lua_newuserdatauv(L, sizeof *d, 0);
    d->pid = -1, d->parent_fd = -1, d->reaped = 1; /* created closed, then opened */
    luaL_setmetatable(L, SBXL_DAEMON_MT);
    char line[512], err[512];
    if (sbx_daemon_spawn(d, &cmd, timeout, line, sizeof line, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushstring(L, line);
    return 2;
}

static int daemon_pid(lua_State *L)
{
    lua_pushinteger(L, check_daemon(L)->pid);
    return 1;
}

/* stop([timeout]): an explicit stop may wait. Idempotent; never raises. */
static int daemon_stop(lua_State *L)
{
    struct sbx_daemon *d = check_daemon(L);
    double timeout = luaL_optnumber(L, 2, 2.0);
    sbx_daemon_stop(d, timeout);
    lua_pushboolean(L, 1);
    return 1;
}

/* close, __close, __gc: never waits, ignores any argument but the daemon. */
static int daemon_close(lua_State *L)
{
    sbx_daemon_close(check_daemon(L));
    return 0;
}

/* alive(): whether sbxd still runs (it is reaped once it has exited). */
static int daemon_alive(lua_State *L)
{
    lua_pushboolean(L, sbx_daemon_alive(check_daemon(L)));
    return 1;
}

static int daemon_tostring(lua_State *L)
{
    const struct sbx_daemon *d = check_daemon(L);
    if (d->parent_fd >= 0) lua_pushfstring(L, "sbx.daemon (pid %d)", (int)d->pid);
    else lua_pushliteral(L, "sbx.daemon (closed)");
    return 1;
}

static const luaL_Reg METHODS[] = {
    {"pid", daemon_pid}, {"alive", daemon_alive}, {"stop", daemon_stop}, {"close", daemon_close},
    {NULL, NULL}};

static const struct sbxl_class DAEMON_CLASS = {
    .name = SBXL_DAEMON_MT, .close = daemon_close, .tostring = daemon_tostring, .methods = METHODS};

static const luaL_Reg FUNCS[] = {{"spawn_daemon", l_spawn_daemon}, {NULL, NULL}};

void sbxl_open_daemon(lua_State *L, const struct sbxl_module *m)
{
    sbxl_newclass(L, m, &DAEMON_CLASS);
    sbxl_setfuncs(L, m, FUNCS);
}
