/* A C host embedding two Lua states that both use sbx: commands run in both, their
 * step(0) calls interleave, and the states close in either order. Each state has its own
 * loop and its own embedded sbxd; nothing is shared but curl's global init. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <time.h>
#include "check.h"

static int run(lua_State *L, const char *chunk)
{
    if (luaL_dostring(L, chunk) == LUA_OK) return 0;
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
}

static lua_State *new_state(const char *tag)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushstring(L, tag);
    lua_setglobal(L, "TAG");
    run(L, "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path\n"
           "package.cpath = (os.getenv('SBX_TEST_CPATH') or 'build/?.so') .. ';' .. package.cpath\n"
           "sbx = require 'sbx'\n"
           "box = sbx.create()\n"
           "results = {}\n"
           "for i = 1, 5 do\n"
           "  sbx.go(function() results[i] = box.commands:run('sleep 0.1; echo ' .. TAG .. i).stdout end)\n"
           "end");
    return L;
}

static lua_Integer step(lua_State *L)
{
    if (run(L, "live = sbx.step(0)") != 0) return -1;
    lua_getglobal(L, "live");
    lua_Integer live = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return live;
}

static void check_results(lua_State *L, const char *tag)
{
    int ok = run(L, "for i = 1, 5 do\n"
                    "  assert(results[i] == TAG .. i .. '\\n', tostring(results[i]))\n"
                    "end") == 0;
    CHECK(ok, "state %s got its own outputs", tag);
}

/* Drives both states with interleaved step(0) calls until neither has a live task. */
static void drive_both(lua_State *a, lua_State *b)
{
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 10000; i++) {
        lua_Integer la = step(a), lb = step(b);
        if (la <= 0 && lb <= 0) break;
        nanosleep(&pause, NULL);
    }
}

static void pair(int close_a_first)
{
    lua_State *a = new_state("a"), *b = new_state("b");
    drive_both(a, b);
    check_results(a, "a");
    check_results(b, "b");
    /* A blocking run in one state while the other has work of its own. */
    CHECK(run(b, "results = {}; sbx.go(function() results[1] = box.commands:run('echo late').stdout end)") == 0, "b");
    CHECK(run(a, "assert(box.commands:run('echo x').stdout == 'x\\n')") == 0, "a blocks alone");
    CHECK(run(b, "sbx.loop(); assert(results[1] == 'late\\n')") == 0, "b still finishes");
    if (close_a_first) lua_close(a), lua_close(b);
    else lua_close(b), lua_close(a);
    CHECK(1, "closed");
}

int main(void)
{
    pair(1);
    pair(0);
    return check_report();
}
