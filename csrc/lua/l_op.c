/* The "sbx.op" userdata: one HTTP operation (csrc/core/op.h). It points to a malloc'd
 * sbx_op owned by the client core (the luv pattern): closing the op, collecting it, or
 * closing the loop frees it, and clears the pointer. Its user value keeps the request's
 * body alive, which curl sends without a copy.
 *
 *   core.request{method=, url=, unix_socket=, headers={...}, body=, sse=, collect=, chunks=,
 *                bulk=,
 *                output_from=}
 *        --> op; the transfer starts at once or at a later step (bulk: a stream that
 *        reads through a bulk receive buffer, whatever the client's count of them;
 *        output_from: an op whose collected output this one takes over and collects
 *        onto, the bytes of its complete events)
 *        --> nil, message, kind when it cannot start (kind: an sbx error kind)
 *   op:poll([max [, max_bytes]]) --> array of events, oldest first, and the number left:
 *        {type="head", status=, content_type=}      the final response's headers
 *        {type="event", event=, data=, id=}         an SSE event (stdout/stderr data decoded
 *                                                   from base64: raw bytes)
 *        {type="done", status=, body=}              terminal: completed ("" body for SSE)
 *        {type="error", message=, code=, busy=}     terminal: transport failure (busy:
 *                                                   the listen queue was full; nothing sent)
 *   op:output("stdout"|"stderr") --> the bytes of the complete output events collected so
 *        far (collect=true), handed over (nil, message when out of memory); with
 *        chunks=false the output events themselves are not queued
 *   op:offset() --> the id of the last complete output event (an integer: the offset a
 *        resume starts from), or nil when none came
 *   op:chunks(bool) --> from now on output events are queued (or not); bytes collected
 *        already are not queued again
 *   core.request_template{method=, url=, unix_socket=, headers=, body=, url_tail=}
 *        --> a template: the request whose url is url, a number (a pid, or a start's
 *        key: docs/PROTOCOL.md "A start sent again"), then url_tail (close,
 *        __close, __gc let it go; operations that hold it keep it)
 *   op:kill_on_close(template, pid | nil) --> when the op is closed or collected while
 *        it is set and the stream has not reached its end event, the template's request
 *        for pid starts detached: nobody waits for it, its answer is dropped, the client
 *        frees it at its end. Operations share the template (a pid each).
 *   op:idle() --> seconds since bytes last arrived (keep-alive comments count)
 *   op:backlog() --> bytes the op holds for Lua; 0 when closed
 *   op:outgrown() --> whether the stream, not over, reads through curl's smallest buffer
 *        and has taken enough bytes that attaching again with bulk=true costs less
 *   op:done(), op:cancel(), op:close() (also __close, __gc)
 */
#include <stdint.h>
#include <string.h>
#include "binding.h"
#include "l_op.h"
#include "bigstr.h"
#include "op.h"
#include "protocol.h"
#include "reqcopy.h"

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
        field_str(L, "body", ev->data, ev->len);
        break;
    case SBX_EV_ERROR:
        field_str(L, "message", ev->name, strlen(ev->name));
        lua_pushinteger(L, ev->code), lua_setfield(L, -2, "code");
        if (ev->busy) lua_pushboolean(L, 1), lua_setfield(L, -2, "busy");
        break;
    }
}

/* Output data is handed to Lua in strings of at most this many bytes: strings of a
 * frame's size (up to 1 MiB) would be mapped afresh by the allocator and fault in page by
 * page each time, where these are made in the blocks earlier ones were (chunkpool.h). */
#define CHUNK_STRING_MAX SBXL_CHUNK_STRING_MAX

/* Pushes what is left of ev (from ev->taken on) into the array on the stack top after
 * its *n elements: an output event as pieces of CHUNK_STRING_MAX bytes, only the event's
 * last with its id, as many as `room` bytes take (one at least: a large event goes in
 * parts, over several calls); any other event whole. Returns the bytes pushed. */
static size_t push_event_part(lua_State *L, const struct sbx_event *ev, lua_Integer *n,
                              size_t room)
{
    if (ev->type != SBX_EV_EVENT || ev->len <= CHUNK_STRING_MAX) {
        push_event(L, ev);
        lua_rawseti(L, -2, ++*n);
        return ev->len;
    }
    const char *bytes = sbx_event_bytes(ev);
    size_t at = ev->taken;
    do {
        size_t len = ev->len - at < CHUNK_STRING_MAX ? ev->len - at : CHUNK_STRING_MAX;
        lua_createtable(L, 0, 4);
        lua_pushliteral(L, "event"), lua_setfield(L, -2, "type");
        field_str(L, "event", ev->name, strlen(ev->name));
        field_str(L, "data", bytes + at, len);
        if (ev->id && at + len == ev->len) field_str(L, "id", ev->id, strlen(ev->id));
        lua_rawseti(L, -2, ++*n);
        at += len;
    } while (at < ev->len && at - ev->taken < room);
    return at - ev->taken;
}

/* The chunk strings of the calls before are garbage once their callbacks returned: a
 * step of the collector for every CHUNK_STRING_MAX of them frees them at the pace they
 * come. Left to its pace alone, the collector waits for the heap to double from what it
 * last found alive, which after a large string (a command's whole output) is as much
 * again of chunks piling up, fresh memory all of it. */
static void pace_collector(lua_State *L, struct sbxl_loop *u, size_t bytes)
{
    if ((u->chunk_bytes += bytes) < CHUNK_STRING_MAX) return;
    u->chunk_bytes = 0;
    lua_gc(L, LUA_GCSTEP, 0);
}

/* op:poll's work, in a call of its own (chunkpool.h): (op, max, max_bytes, loop). */
static int poll_events(lua_State *L)
{
    struct sbx_op *op = check_open(L);
    lua_Integer max = lua_tointeger(L, 2), max_bytes = lua_tointeger(L, 3);
    size_t queued = sbx_op_queued(op);
    lua_createtable(L, (int)(max && (size_t)max < queued ? (size_t)max : queued), 0);
    lua_Integer n = 0;
    size_t bytes = 0;
    struct sbx_event *ev;
    while ((max == 0 || n < max) && (max_bytes == 0 || bytes < (size_t)max_bytes) &&
           (ev = sbx_op_peek(op))) {
        size_t took = push_event_part(L, ev, &n, max_bytes ? (size_t)max_bytes - bytes : SIZE_MAX);
        bytes += took;
        if (sbx_op_take(op, ev, took)) sbx_event_free(ev);
    }
    pace_collector(L, lua_touserdata(L, 4), bytes);
    lua_pushinteger(L, (lua_Integer)sbx_op_queued(op));
    return 2;
}

/* op:poll([max [, max_bytes]]) -> array of events (oldest first), number still queued.
 * It stops after `max` events, or once their data reaches `max_bytes` (one event, or
 * one piece of a large one, at least; the rest of that event comes in the next calls):
 * what one call turns into Lua strings is bounded. */
static int op_poll(lua_State *L)
{
    check_open(L);
    lua_Integer max = luaL_optinteger(L, 2, 0), max_bytes = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, max >= 0, 2, "must be a non-negative integer");
    luaL_argcheck(L, max_bytes >= 0, 3, "must be a non-negative integer");
    lua_settop(L, 1);
    struct sbxl_loop *u = sbxl_loop(L);
    lua_pushcfunction(L, poll_events);
    lua_insert(L, 1);
    lua_pushinteger(L, max);
    lua_pushinteger(L, max_bytes);
    lua_pushlightuserdata(L, u);
    if (sbx_chunkpool_pcall(&u->pool, L, 4, 2) != LUA_OK) lua_error(L);
    return 2;
}

/* op:output("stdout"|"stderr") -> the bytes collected on that channel, handed over:
 * a second call returns only what arrived since. */
static int op_output(lua_State *L)
{
    static const char *const CHANNELS[] = {SBX_EV_STDOUT, SBX_EV_STDERR, NULL};
    struct sbx_op *op = check_open(L);
    int channel = luaL_checkoption(L, 2, NULL, CHANNELS);
    size_t len;
    int oom;
    char *block = sbx_op_take_output_block(op, channel, &len, &oom);
    if (block) {
        const struct sbx_allocator *a = &op->client->output_source.alloc;
        sbx_push_block_string(L, a->realloc, a->ud, a->head, block, len);
        return 1;
    }
    if (!oom) {
        const struct sbx_buf *b = sbx_op_output(op, channel, &len);
        sbx_push_big_string(L, b->data ? b->data : "", len);
        if (sbx_op_release_output(op, channel) == 0) return 1;
    }
    lua_pushnil(L);
    lua_pushliteral(L, "out of memory");
    return 2;
}

/* op:offset() -> the id of the last complete output event, or nil. */
static int op_offset(lua_State *L)
{
    int64_t offset = sbx_op_offset(check_open(L));
    if (offset < 0) lua_pushnil(L);
    else lua_pushinteger(L, (lua_Integer)offset);
    return 1;
}

/* op:chunks(bool): output events are queued from now on, or not. */
static int op_chunks(lua_State *L)
{
    struct sbx_op *op = check_open(L);
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    sbx_op_chunks(op, lua_toboolean(L, 2));
    return 0;
}

/* op:idle() -> seconds since the last bytes arrived (since the start when none did);
 * keep-alive comments count, though they make no event. */
static int op_idle(lua_State *L)
{
    lua_pushnumber(L, sbx_op_idle(check_open(L)));
    return 1;
}

static int op_outgrown(lua_State *L)
{
    lua_pushboolean(L, sbx_op_outgrown(check_open(L)));
    return 1;
}

static int op_done(lua_State *L)
{
    lua_pushboolean(L, check_open(L)->done);
    return 1;
}

/* op:backlog() -> bytes the op holds for Lua: its queued events, and, once the transfer
 * is over, the collected output that is copied into strings at the end (not output that
 * becomes its string in place). 0 when closed. The
 * scheduler uses it to estimate what resuming the op's task costs. */
static int op_backlog(lua_State *L)
{
    const struct sbx_op *op = check_lop(L)->op;
    lua_pushinteger(L, op ? (lua_Integer)sbx_op_backlog(op) : 0);
    return 1;
}

static int op_cancel(lua_State *L)
{
    sbx_op_cancel(check_open(L));
    return 0;
}

/* close, __close and __gc: one idempotent destroy; never raises, never calls Lua. */
static int op_close(lua_State *L)
{
    struct l_op *u = check_lop(L);
    if (!u->op) return 0;
    struct sbx_op *op = u->op;
    u->op = NULL;
    op->owner = NULL;
    sbxl_push_anchors(L);
    lua_pushlightuserdata(L, &op->node);
    lua_pushnil(L);
    lua_rawset(L, -3);
    sbx_op_close(op);
    return 0;
}

static int op_tostring(lua_State *L)
{
    struct l_op *u = check_lop(L);
    if (u->op) lua_pushfstring(L, "sbx.op (%p)", (void *)u->op);
    else lua_pushliteral(L, "sbx.op (closed)");
    return 1;
}

static const char *opt_string(lua_State *L, int arg, const char *field)
{
    lua_getfield(L, arg, field);
    luaL_argexpected(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING, arg, field);
    return lua_tostring(L, -1);
}

static const char *string_field(lua_State *L, int arg, const char *field)
{
    lua_getfield(L, arg, field);
    luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, arg, field);
    return lua_tostring(L, -1);
}

/* The request's header lines, in a userdata left on the stack (the strings stay alive in
 * the headers table, which the request table keeps). */
static const char **header_lines(lua_State *L, int arg, size_t *n)
{
    lua_getfield(L, arg, "headers");
    luaL_argexpected(L, lua_isnil(L, -1) || lua_istable(L, -1), arg, "'headers' array");
    *n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    const char **lines = lua_newuserdatauv(L, (*n + 1) * sizeof *lines, 0);
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        luaL_argexpected(L, lua_type(L, -1) == LUA_TSTRING, arg, "'headers' of strings");
        lines[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return lines;
}

/* Reads where a request table at index `arg` (the stack's top) goes: method, url,
 * unix_socket, headers and body. Its strings stay owned by the table; the body (or nil)
 * is left at index arg + 1. */
static void read_target(lua_State *L, int arg, struct sbx_request *req)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_settop(L, arg);
    req->body = opt_string(L, arg, "body");     /* index arg + 1 */
    req->body_len = req->body ? lua_rawlen(L, arg + 1) : 0;
    req->method = string_field(L, arg, "method");
    req->url = string_field(L, arg, "url");
    req->unix_socket = opt_string(L, arg, "unix_socket");
    req->headers = header_lines(L, arg, &req->nheaders);
}

/* Reads the request table at index 1 into req; its strings stay owned by the table, and
 * the body (or nil) is left at index 2. */
static void read_request(lua_State *L, struct sbx_request *req)
{
    read_target(L, 1, req);
    lua_getfield(L, 1, "raw_body");
    req->raw_body = lua_toboolean(L, -1);
    lua_getfield(L, 1, "sse");
    req->sse = lua_toboolean(L, -1);
    lua_getfield(L, 1, "collect");
    req->collect = lua_toboolean(L, -1);
    lua_getfield(L, 1, "chunks");
    req->chunks = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_getfield(L, 1, "bulk");
    req->bulk = lua_toboolean(L, -1);
    lua_getfield(L, 1, "fresh");
    req->fresh = lua_toboolean(L, -1);
    lua_getfield(L, 1, "output_from");
    if (!lua_isnil(L, -1)) {
        struct l_op *from = luaL_testudata(L, -1, SBXL_OP_MT);
        luaL_argexpected(L, from && from->op, 1, "'output_from' an open sbx.op");
        req->output_from = from->op;
    }
}

/* The "sbx.template" userdata: a reference to a request template, NULL once closed. */
struct l_template {
    struct sbx_reqcopy *rc;
};

/* core.request_template{method=, url=, unix_socket=, headers=, body=, url_tail=}: a
 * request whose url is url, a pid, then url_tail; operations share it. */
static int l_request_template(lua_State *L)
{
    struct sbx_request req = {0};
    read_target(L, 1, &req);
    const char *tail = opt_string(L, 1, "url_tail");
    struct l_template *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->rc = NULL;
    luaL_setmetatable(L, SBXL_TEMPLATE_MT);
    u->rc = sbx_reqcopy_new(&req, tail);
    if (!u->rc) return luaL_error(L, "out of memory");
    return 1;
}

static int template_close(lua_State *L)
{
    struct l_template *u = luaL_checkudata(L, 1, SBXL_TEMPLATE_MT);
    sbx_reqcopy_free(u->rc);
    u->rc = NULL;
    return 0;
}

static int template_tostring(lua_State *L)
{
    struct l_template *u = luaL_checkudata(L, 1, SBXL_TEMPLATE_MT);
    if (u->rc) lua_pushfstring(L, "sbx.template (%s)", u->rc->req.url);
    else lua_pushliteral(L, "sbx.template (closed)");
    return 1;
}

/* op:kill_on_close(template, pid | nil): the request started detached should the op be
 * closed before its stream's end, or none. */
static int op_kill_on_close(lua_State *L)
{
    struct sbx_op *op = check_open(L);
    if (lua_isnoneornil(L, 2)) {
        sbx_op_kill_on_close(op, NULL, 0);
        return 0;
    }
    struct l_template *t = luaL_checkudata(L, 2, SBXL_TEMPLATE_MT);
    lua_Integer pid = luaL_checkinteger(L, 3);
    if (!t->rc) return luaL_argerror(L, 2, "a closed sbx.template");
    sbx_op_kill_on_close(op, t->rc, (int64_t)pid);
    return 0;
}

/* core.request{...} -> op, or nil, message, kind. A request that cannot start is a
 * failure the user sees: the Lua layer raises the sbx error of that kind. */
static int l_request(lua_State *L)
{
    struct sbx_request req = {0};
    read_request(L, &req);
    struct sbx_client *C = sbxl_client(L);
    struct l_op *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->op = NULL;
    luaL_setmetatable(L, SBXL_OP_MT);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1); /* the body lives as long as the op may send it */
    struct sbx_start_error err;
    struct sbx_op *op = sbx_op_start(C, &req, &err);
    if (!op) {
        lua_pushnil(L);
        lua_pushstring(L, err.message);
        lua_pushstring(L, err.invalid ? SBX_ERR_INVALID : SBX_ERR_SANDBOX);
        return 3;
    }
    u->op = op;
    op->owner = (void **)&u->op;
    sbxl_push_anchors(L);
    lua_pushlightuserdata(L, &op->node);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return 1;
}

static const luaL_Reg OP_METHODS[] = {
    {"poll", op_poll}, {"output", op_output}, {"offset", op_offset}, {"chunks", op_chunks},
    {"kill_on_close", op_kill_on_close}, {"idle", op_idle}, {"done", op_done},
    {"outgrown", op_outgrown},
    {"backlog", op_backlog}, {"cancel", op_cancel}, {"close", op_close}, {NULL, NULL}};

static const struct sbxl_class OP_CLASS = {
    .name = SBXL_OP_MT, .close = op_close, .tostring = op_tostring, .methods = OP_METHODS};

static const luaL_Reg TEMPLATE_METHODS[] = {{"close", template_close}, {NULL, NULL}};

static const struct sbxl_class TEMPLATE_CLASS = {.name = SBXL_TEMPLATE_MT, .close = template_close,
    .tostring = template_tostring, .methods = TEMPLATE_METHODS};

static const luaL_Reg FUNCS[] = {
    {"request", l_request}, {"request_template", l_request_template}, {NULL, NULL}};

void sbxl_open_op(lua_State *L, const struct sbxl_module *m)
{
    sbxl_newclass(L, m, &OP_CLASS);
    sbxl_newclass(L, NULL, &TEMPLATE_CLASS);
    sbxl_setfuncs(L, m, FUNCS);
}
