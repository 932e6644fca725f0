/* luaopen_sbx_core: the C core of sbx, one client core (libuv loop, curl multi) per Lua
 * state. Each userdata class has its own file: l_loop.c (the loop, and step, ready,
 * pollfd, timeout), l_op.c (request and its operations), l_session.c (interactive
 * sessions), l_daemon.c (spawn_daemon), l_tty.c (the command line's terminal).
 * Here: the module table, and small functions of no class:
 *
 *   core.now()               monotonic seconds
 *   core.b64encode(s)        standard base64, padded
 *   core.b64decode(s)        --> the bytes | nil when s is not such base64
 *   core.random_hex(nbytes)  --> 2*nbytes hex digits from getrandom | nil, message
 *   core.mkdtemp(prefix)     --> a new 0700 directory | nil, message
 *   core.VERSION             the protocol's version (protocol.h)
 *   core.EVENT               the protocol's event names: START, STDOUT, STDERR, END
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>
#include "base64.h"
#include "binding.h"
#include "l_daemon.h"
#include "l_loop.h"
#include "l_op.h"
#include "l_session.h"
#include "l_tty.h"
#include "protocol.h"

static int l_now(lua_State *L)
{
    lua_pushnumber(L, (double)uv_hrtime() / 1e9);
    return 1;
}

static int l_b64encode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, b64_encoded_len(n));
    luaL_pushresultsize(&b, b64_encode((const unsigned char *)s, n, out));
    return 1;
}

static int l_b64decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, b64_decoded_max(n));
    size_t len = b64_decode(s, n, out);
    if (len == (size_t)-1) {
        luaL_pushresultsize(&b, 0);
        lua_pushnil(L);
        return 1;
    }
    luaL_pushresultsize(&b, len);
    return 1;
}

static int l_random_hex(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0 && n <= 256, 1, "must be 1..256");
    unsigned char raw[256];
    char hex[512];
    size_t len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw; /* what the check said */
    if (getrandom(raw, len, 0) != (ssize_t)len) {
        lua_pushnil(L);
        lua_pushfstring(L, "getrandom: %s", strerror(errno));
        return 2;
    }
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * len);
    return 1;
}

static int l_mkdtemp(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_pushvalue(L, 1);
    lua_pushliteral(L, "XXXXXX");
    lua_concat(L, 2);
    size_t n;
    const char *template = lua_tolstring(L, -1, &n);
    char *path = lua_newuserdatauv(L, n + 1, 0); /* mkdtemp writes into it */
    memcpy(path, template, n + 1);
    if (!mkdtemp(path)) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushstring(L, path);
    return 1;
}

static const luaL_Reg FUNCS[] = {
    {"now", l_now}, {"b64encode", l_b64encode}, {"b64decode", l_b64decode}, {"random_hex", l_random_hex},
    {"mkdtemp", l_mkdtemp}, {NULL, NULL}};

static void set_constants(lua_State *L)
{
    lua_pushliteral(L, SBX_VERSION);
    lua_setfield(L, -2, "VERSION");
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, SBX_EV_START), lua_setfield(L, -2, "START");
    lua_pushliteral(L, SBX_EV_STDOUT), lua_setfield(L, -2, "STDOUT");
    lua_pushliteral(L, SBX_EV_STDERR), lua_setfield(L, -2, "STDERR");
    lua_pushliteral(L, SBX_EV_END), lua_setfield(L, -2, "END");
    lua_setfield(L, -2, "EVENT");
}

/* The weak map from scheduler nodes to operation userdata (binding.h). */
static void new_anchors(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
}

SBXL_EXPORT int luaopen_sbx_core(lua_State *L);

int luaopen_sbx_core(lua_State *L)
{
    lua_newtable(L);
    struct sbxl_module m = {.table = lua_gettop(L)};
    sbxl_new_loop(L);
    m.loop = lua_gettop(L);
    new_anchors(L);
    m.anchors = lua_gettop(L);
    sbxl_open_loop(L, &m);
    sbxl_open_op(L, &m);
    sbxl_open_session(L, &m);
    sbxl_open_daemon(L, &m);
    sbxl_open_tty(L, &m);
    sbxl_setfuncs(L, &m, FUNCS);
    lua_settop(L, m.table);
    set_constants(L);
    return 1;
}
