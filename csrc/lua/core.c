/* luaopen_sbx_core: the C core of sbx, one libuv loop per Lua state.
 *
 *   core.request{method=, url=, unix_socket=, headers={...}, body=, sse=, collect=, chunks=,
 *                connect_timeout=}
 *        --> op; the transfer starts on the next step
 *   op:poll([max [, max_bytes]]) --> array of events, oldest first (at most max of them,
 *        stopping once their data reaches max_bytes), and the number still queued:
 *        {type="head", status=, content_type=}      the final response's headers
 *        {type="event", event=, data=, id=}         an SSE event (stdout/stderr data decoded
 *                                                   from base64: raw bytes)
 *        {type="done", status=, body=}              terminal: completed ("" body for SSE)
 *        {type="error", message=, code=}            terminal: transport failure
 *   op:output("stdout"|"stderr") --> the bytes collected so far (collect=true), handed
 *        over; with chunks=false the output events themselves are not queued
 *   op:idle() --> seconds since bytes last arrived (keep-alive comments count)
 *   op:backlog() --> bytes the op holds for Lua (queued events; the collected output
 *        once the transfer is over); 0 when closed
 *   op:done(), op:cancel(), op:close() (also __close, __gc)
 *   core.step(timeout)  0: never blocks; nil: until something happens; n: at most n s.
 *                       --> number of operations with unreported events
 *   core.ready()        --> array of the ops that got events since the last call
 *   core.pollfd(), core.timeout()   the loop's backend fd and its timeout (s or nil)
 *   core.now()          monotonic seconds
 *   core.b64encode(s), core.b64decode(s) (nil, msg on bad input)
 *   core.random_hex(nbytes), core.mkdtemp(prefix), core.getpid()
 *   core.spawn_daemon(path, args, ready_timeout, env) --> daemon, ready_line | nil, msg
 *   daemon:pid(), daemon:alive(), daemon:stop([timeout]), daemon:kill([sig])
 *
 * C never calls Lua from inside a libcurl or libuv callback: those queue events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "base64.h"
#include "binding.h"
#include "http.h"

struct l_loop {
    struct sbx_loop *loop;
};

struct sbx_loop *sbxl_loop(lua_State *L)
{
    struct l_loop *u = lua_touserdata(L, lua_upvalueindex(1));
    if (!u->loop) luaL_error(L, "attempt to use a closed sbx loop");
    return u->loop;
}

void sbxl_push_anchors(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(2));
}

void sbxl_setfuncs(lua_State *L, const luaL_Reg *fns, int loop_idx, int anchors_idx)
{
    for (; fns->name; fns++) {
        lua_pushvalue(L, loop_idx);
        lua_pushvalue(L, anchors_idx);
        lua_pushcclosure(L, fns->func, SBXL_NUPVALUES);
        lua_setfield(L, -2, fns->name);
    }
}

static int loop_gc(lua_State *L)
{
    struct l_loop *u = luaL_checkudata(L, 1, SBXL_LOOP_MT);
    if (u->loop) {
        sbx_loop_destroy(u->loop);
        free(u->loop);
        u->loop = NULL;
    }
    return 0;
}

static int l_step(lua_State *L)
{
    double timeout = -1;
    if (!lua_isnoneornil(L, 1)) {
        timeout = luaL_checknumber(L, 1);
        luaL_argcheck(L, timeout >= 0, 1, "must be nil or a non-negative number");
    }
    struct sbx_loop *loop = sbxl_loop(L);
    sbx_loop_step(loop, timeout);
    lua_Integer n = 0;
    for (struct sbx_op *op = loop->ready; op; op = op->ready_next) n++;
    lua_pushinteger(L, n);
    return 1;
}

/* Ops whose userdata is no longer anchored nor referenced were collected and are not
 * in the list any more (destroy unlinks them); unanchored live ones are skipped. */
static int l_ready(lua_State *L)
{
    struct sbx_loop *loop = sbxl_loop(L);
    lua_newtable(L);
    sbxl_push_anchors(L);
    lua_Integer n = 0;
    struct sbx_op *op;
    while ((op = sbx_loop_pop_ready(loop))) {
        lua_pushlightuserdata(L, op);
        if (lua_rawget(L, -2) == LUA_TUSERDATA) lua_rawseti(L, -3, ++n);
        else lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

static int l_pollfd(lua_State *L)
{
    lua_pushinteger(L, uv_backend_fd(&sbxl_loop(L)->uv));
    return 1;
}

/* libuv answers 0 for a loop with nothing to do; a host polling on that would spin, so
 * an idle loop says nil: only new work (which goes through step) can wake it. Streams
 * paused by the step budget resume at the next step, and requests over a step's quota
 * start then: no descriptor will say so, so the answer is 0 while any wait. */
static int l_timeout(lua_State *L)
{
    struct sbx_loop *loop = sbxl_loop(L);
    uv_loop_t *uv = &loop->uv;
    int pending = sbx_has_resumable(loop) || loop->waiting.head != NULL;
    int ms = pending ? 0 : uv_loop_alive(uv) ? uv_backend_timeout(uv) : -1;
    if (ms < 0) lua_pushnil(L);
    else lua_pushnumber(L, ms / 1000.0);
    return 1;
}

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
    char *out = luaL_buffinitsize(L, &b, b64_decoded_max(n) + 1);
    size_t len = b64_decode(s, n, (unsigned char *)out);
    if (len == (size_t)-1) {
        luaL_pushresultsize(&b, 0);
        lua_pushnil(L);
        lua_pushliteral(L, "invalid base64");
        return 2;
    }
    luaL_pushresultsize(&b, len);
    return 1;
}

static int l_random_hex(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0 && n <= 256, 1, "must be 1..256");
    unsigned char raw[256];
    char hex[513];
    size_t len = (size_t)n & 511u;
    if (len > sizeof raw || getrandom(raw, len, 0) != (ssize_t)len)
        return luaL_error(L, "getrandom failed");
    for (lua_Integer i = 0; i < n; i++) {
        hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    lua_pushlstring(L, hex, (size_t)(2 * n));
    return 1;
}

static int l_mkdtemp(lua_State *L)
{
    size_t n;
    const char *prefix = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, prefix, n);
    luaL_addstring(&b, "XXXXXX");
    luaL_pushresult(&b);
    char *path = strdup(lua_tostring(L, -1));
    if (!path) return luaL_error(L, "out of memory");
    if (!mkdtemp(path)) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        free(path);
        return 2;
    }
    lua_pushstring(L, path);
    free(path);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

static const luaL_Reg FUNCS[] = {
    {"request", sbxl_request}, {"step", l_step}, {"ready", l_ready}, {"pollfd", l_pollfd},
    {"timeout", l_timeout}, {"now", l_now}, {"b64encode", l_b64encode},
    {"b64decode", l_b64decode}, {"random_hex", l_random_hex}, {"mkdtemp", l_mkdtemp},
    {"getpid", l_getpid}, {"spawn_daemon", sbxl_spawn_daemon}, {NULL, NULL}};

int luaopen_sbx_core(lua_State *L);

int luaopen_sbx_core(lua_State *L)
{
    struct l_loop *u = lua_newuserdatauv(L, sizeof *u, 0);   /* index 1 */
    u->loop = calloc(1, sizeof *u->loop);
    if (!u->loop || sbx_loop_init(u->loop) != 0) {
        free(u->loop);
        u->loop = NULL;
        return luaL_error(L, "sbx.core: cannot initialise the event loop");
    }
    luaL_newmetatable(L, SBXL_LOOP_MT);
    lua_pushcfunction(L, loop_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    int loop_idx = lua_gettop(L);
    lua_newtable(L);                                           /* anchors */
    int anchors_idx = lua_gettop(L);
    sbxl_open_op(L, loop_idx, anchors_idx);
    sbxl_open_daemon(L, loop_idx, anchors_idx);
    lua_newtable(L);
    sbxl_setfuncs(L, FUNCS, loop_idx, anchors_idx);
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "VERSION");
    return 1;
}
