/* The "sbx.loop" userdata: this Lua state's client core (csrc/core/client.h), and the
 * module functions that drive it: step, ready, pollfd, timeout. C never calls Lua from
 * inside a libcurl or libuv callback: those queue events, which Lua takes after a step. */
#include <stdlib.h>
#include "bigstr.h"
#include "binding.h"
#include "l_loop.h"

/* How long the Lua state's end waits at most for the kills of what it let go (commands
 * in flight, sessions) to go out: each is one small request to a server that answers at
 * once, unless it is gone. */
#define SBXL_CLOSE_LINGER_MS 1000

static int loop_close(lua_State *L)
{
    struct sbxl_loop *u = luaL_checkudata(L, 1, SBXL_LOOP_MT);
    if (u->client) {
        /* the loop's userdata is the first sbx made, so the last finalized: every op and
         * session of this state was let go before this, its kill started */
        sbx_client_finish_lingering(u->client, SBXL_CLOSE_LINGER_MS);
        sbx_client_destroy(u->client);
        free(u->client);
        u->client = NULL;
    }
    sbx_chunkpool_free(&u->pool);
    return 0;
}

static int loop_tostring(lua_State *L)
{
    struct sbxl_loop *u = luaL_checkudata(L, 1, SBXL_LOOP_MT);
    if (u->client) lua_pushfstring(L, "sbx.loop (%p)", (void *)u->client);
    else lua_pushliteral(L, "sbx.loop (closed)");
    return 1;
}

static const struct sbxl_class LOOP_CLASS = {
    .name = SBXL_LOOP_MT, .close = loop_close, .tostring = loop_tostring};

void sbxl_new_loop(lua_State *L)
{
    sbxl_newclass(L, NULL, &LOOP_CLASS);
    struct sbxl_loop *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->client = NULL;
    u->pool.alloc = NULL, u->pool.n = 0;
    u->chunk_bytes = 0;
    luaL_setmetatable(L, SBXL_LOOP_MT);
    struct sbx_client *C = malloc(sizeof *C);
    if (!C || sbx_client_init(C) != 0) {
        free(C);
        luaL_error(L, "sbx.core: cannot initialise the event loop");
    }
    u->client = C;
    /* Output is collected in blocks of the state's own allocator, each handed to Lua at
     * the end as the very block of the string it becomes (bigstr.h). */
    size_t head = sbx_string_head(L);
    if (head) {
        struct sbx_allocator *a = &C->output_source.alloc;
        a->realloc = lua_getallocf(L, &a->ud);
        a->head = head;
        sbx_chunkpool_init(&u->pool, L, head + SBXL_CHUNK_STRING_MAX + 1);
    }
}

/* core.step(timeout [, bulk]): 0 never blocks; nil blocks until something happens; n at
 * most n s. bulk: no host's frame waits on this step (its caller blocks), so it takes a
 * blocking step's budget whatever its timeout (client.h). Returns the number of
 * operations with events not reported yet by core.ready(). */
static int l_step(lua_State *L)
{
    double timeout = -1;
    if (!lua_isnoneornil(L, 1)) {
        timeout = luaL_checknumber(L, 1);
        luaL_argcheck(L, timeout >= 0, 1, "must be nil or a non-negative number");
    }
    struct sbx_client *C = sbxl_client(L);
    sbx_client_step(C, timeout, lua_toboolean(L, 2));
    lua_pushinteger(L, (lua_Integer)sbx_client_ready_count(C));
    return 1;
}

/* core.ready() -> array of the operations that got events since the last call. One whose
 * userdata was collected is not among them (its destroy took it off the list), nor one
 * being finalized (the weak map let go of it first). */
static int l_ready(lua_State *L)
{
    struct sbx_client *C = sbxl_client(L);
    lua_newtable(L);
    sbxl_push_anchors(L);
    lua_Integer n = 0;
    struct sbx_sched_node *node;
    while ((node = sbx_client_pop_ready(C))) {
        lua_pushlightuserdata(L, node);
        if (lua_rawget(L, -2) == LUA_TUSERDATA) lua_rawseti(L, -3, ++n);
        else lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

static int l_pollfd(lua_State *L)
{
    lua_pushinteger(L, sbx_client_fd(sbxl_client(L)));
    return 1;
}

/* core.timeout() -> seconds until a step has work for sure, or nil when only new work
 * can wake the loop (see sbx_client_timeout_ms). */
static int l_timeout(lua_State *L)
{
    int ms = sbx_client_timeout_ms(sbxl_client(L));
    if (ms < 0) lua_pushnil(L);
    else lua_pushnumber(L, ms / 1000.0);
    return 1;
}

static const luaL_Reg FUNCS[] = {
    {"step", l_step}, {"ready", l_ready}, {"pollfd", l_pollfd}, {"timeout", l_timeout}, {NULL, NULL}};

void sbxl_open_loop(lua_State *L, const struct sbxl_module *m)
{
    sbxl_setfuncs(L, m, FUNCS);
}
