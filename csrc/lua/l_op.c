/* The "sbx.op" userdata: one HTTP operation. It points to a malloc'd sbx_op owned by the
 * loop (the luv pattern): closing the op or the loop frees it, and clears the pointer. */
#include <stdlib.h>
#include <string.h>
#include "binding.h"
#include "http.h"

struct l_op {
    struct sbx_op *op;
};

static struct l_op *check_lop(lua_State *L)
{
    return luaL_checkudata(L, 1, SBXL_OP_MT);
}

static struct sbx_op *check_open(lua_State *L)
{
    struct l_op *u = check_lop(L);
    if (!u->op) luaL_error(L, "attempt to use a closed sbx.op");
    return u->op;
}

static void set_anchor(lua_State *L, struct sbx_op *op, int ud_idx)
{
    sbxl_push_anchors(L);
    lua_pushlightuserdata(L, op);
    if (ud_idx) lua_pushvalue(L, ud_idx);
    else lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static void field_str(lua_State *L, const char *k, const char *v, size_t len)
{
    lua_pushlstring(L, v, len);
    lua_setfield(L, -2, k);
}

static void push_event(lua_State *L, const struct sbx_event *ev)
{
    static const char *const TYPES[] = {"head", "event", "done", "error"};
    lua_createtable(L, 0, 4);
    lua_pushstring(L, TYPES[ev->type]);
    lua_setfield(L, -2, "type");
    switch (ev->type) {
    case SBX_EV_HEAD:
        lua_pushinteger(L, ev->status), lua_setfield(L, -2, "status");
        field_str(L, "content_type", ev->name, strlen(ev->name));
        break;
    case SBX_EV_EVENT:
        field_str(L, "event", ev->name, strlen(ev->name));
        field_str(L, "data", sbx_event_bytes(ev), ev->len);
        if (ev->id) field_str(L, "id", ev->id, strlen(ev->id));
        break;
    case SBX_EV_DONE:
        lua_pushinteger(L, ev->status), lua_setfield(L, -2, "status");
        field_str(L, "body", ev->data ? ev->data : "", ev->len);
        break;
    case SBX_EV_ERROR:
        field_str(L, "message", ev->name, strlen(ev->name));
        lua_pushinteger(L, ev->code), lua_setfield(L, -2, "code");
        break;
    }
}

/* op:poll([max [, max_bytes]]) -> array of events (oldest first), number still queued.
 * It stops after `max` events, or once their data reaches `max_bytes` (one event at
 * least): what one call turns into Lua strings is bounded. Draining the terminal event
 * releases the anchor: curl no longer holds the op, Lua's references decide its life. */
static int op_poll(lua_State *L)
{
    struct sbx_op *op = check_open(L);
    lua_Integer max = luaL_optinteger(L, 2, 0), max_bytes = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, max >= 0, 2, "must be a non-negative integer");
    luaL_argcheck(L, max_bytes >= 0, 3, "must be a non-negative integer");
    lua_createtable(L, (int)(max && (size_t)max < op->events.count ? (size_t)max : op->events.count), 0);
    lua_Integer n = 0;
    size_t bytes = 0;
    struct sbx_event *ev;
    while ((max == 0 || n < max) && (max_bytes == 0 || bytes < (size_t)max_bytes) &&
           (ev = sbx_op_pop(op))) {
        int terminal = ev->type == SBX_EV_DONE || ev->type == SBX_EV_ERROR;
        bytes += ev->len;
        push_event(L, ev);
        sbx_event_free(ev);
        lua_rawseti(L, -2, ++n);
        if (terminal) set_anchor(L, op, 0);
    }
    lua_pushinteger(L, (lua_Integer)op->events.count);
    return 2;
}

/* op:output("stdout"|"stderr") -> the bytes collected on that channel, handed over:
 * a second call returns only what arrived since. */
static int op_output(lua_State *L)
{
    static const char *const CHANNELS[] = {"stdout", "stderr", NULL};
    struct sbx_op *op = check_open(L);
    int channel = luaL_checkoption(L, 2, NULL, CHANNELS);
    struct sbx_buf *b = &op->output[channel];
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    if (sbx_op_detach_output(op, channel) != 0) return luaL_error(L, "out of memory");
    sbx_loop_free_later(op->loop, b);
    return 1;
}

/* op:idle() -> seconds since the last bytes arrived (since the start when none did);
 * keep-alive comments count, though they make no event. */
static int op_idle(lua_State *L)
{
    struct sbx_op *op = check_open(L);
    lua_pushnumber(L, (double)(uv_hrtime() - op->last_rx) / 1e9);
    return 1;
}

static int op_done(lua_State *L)
{
    lua_pushboolean(L, check_open(L)->done);
    return 1;
}

/* op:backlog() -> bytes the op holds for Lua: its queued events, and, once the transfer
 * is over, the collected output that becomes strings at the end. 0 when closed. The
 * scheduler uses it to estimate what resuming the op's task costs. */
static int op_backlog(lua_State *L)
{
    const struct sbx_op *op = check_lop(L)->op;
    size_t bytes = 0;
    if (op) bytes = op->queued + (op->done ? op->output[0].len + op->output[1].len : 0);
    lua_pushinteger(L, (lua_Integer)bytes);
    return 1;
}

static int op_cancel(lua_State *L)
{
    struct sbx_op *op = check_open(L);
    sbx_op_cancel(op);
    set_anchor(L, op, 0);
    return 0;
}

/* close, __close and __gc: one idempotent destroy; never raises, never calls Lua. */
static int op_close(lua_State *L)
{
    struct l_op *u = check_lop(L);
    if (u->op) {
        struct sbx_op *op = u->op;
        u->op = NULL;
        op->owner = NULL;
        sbx_op_destroy(op);
    }
    return 0;
}

static int op_tostring(lua_State *L)
{
    struct l_op *u = check_lop(L);
    lua_pushfstring(L, u->op ? "sbx.op (%p)" : "sbx.op (closed)", (void *)u->op);
    return 1;
}

/* Reads the request table at index 1 into req; strings stay owned by the Lua table. */
static void read_request(lua_State *L, struct sbx_request *req, const char ***headers)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "method");
    luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, 1, "'method' string");
    req->method = lua_tostring(L, -1);
    lua_getfield(L, 1, "url");
    luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, 1, "'url' string");
    req->url = lua_tostring(L, -1);
    lua_getfield(L, 1, "unix_socket");
    luaL_argexpected(L, lua_isnoneornil(L, -1) || lua_type(L, -1) == LUA_TSTRING, 1, "'unix_socket' string");
    req->unix_socket = lua_tostring(L, -1);
    lua_getfield(L, 1, "body");
    luaL_argexpected(L, lua_isnoneornil(L, -1) || lua_type(L, -1) == LUA_TSTRING, 1, "'body' string");
    req->body = lua_tolstring(L, -1, &req->body_len);
    lua_getfield(L, 1, "sse");
    req->sse = lua_toboolean(L, -1);
    lua_getfield(L, 1, "collect");
    req->collect = lua_toboolean(L, -1);
    lua_getfield(L, 1, "chunks");
    req->chunks = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_getfield(L, 1, "connect_timeout");
    req->connect_timeout_ms = (long)(luaL_optnumber(L, -1, 0) * 1000);
    lua_getfield(L, 1, "headers");
    luaL_argexpected(L, lua_isnoneornil(L, -1) || lua_istable(L, -1), 1, "'headers' array");
    req->nheaders = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    *headers = lua_newuserdatauv(L, (req->nheaders + 1) * sizeof **headers, 0);
    for (size_t i = 0; i < req->nheaders; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, 1, "'headers' of strings");
        (*headers)[i] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the headers table */
    }
    req->headers = *headers;
}

/* core.request{method=, url=, unix_socket=, headers=, body=, sse=, collect=, chunks=,
 * connect_timeout=} */
int sbxl_request(lua_State *L)
{
    struct sbx_request req = {0};
    const char **headers;
    read_request(L, &req, &headers);
    struct l_op *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->op = NULL;
    luaL_setmetatable(L, SBXL_OP_MT);
    char err[256];
    struct sbx_op *op = sbx_op_start(sbxl_loop(L), &req, err, sizeof err);
    if (!op) return luaL_error(L, "request: %s", err);
    u->op = op;
    op->owner = (void **)&u->op;
    set_anchor(L, op, lua_gettop(L));
    return 1;
}

static const luaL_Reg OP_METHODS[] = {
    {"poll", op_poll}, {"output", op_output}, {"idle", op_idle}, {"done", op_done},
    {"backlog", op_backlog}, {"cancel", op_cancel}, {"close", op_close},
    {NULL, NULL}};

void sbxl_open_op(lua_State *L, int loop_idx, int anchors_idx)
{
    luaL_newmetatable(L, SBXL_OP_MT);
    static const luaL_Reg META[] = {
        {"__gc", op_close}, {"__close", op_close}, {"__tostring", op_tostring}, {NULL, NULL}};
    sbxl_setfuncs(L, META, loop_idx, anchors_idx);
    lua_newtable(L);
    sbxl_setfuncs(L, OP_METHODS, loop_idx, anchors_idx);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
