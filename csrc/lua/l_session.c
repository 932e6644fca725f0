/* The "sbx.session" userdata: one interactive session (csrc/core/session.h). It points to
 * a malloc'd sbx_session owned by the client core (the luv pattern): closing the session,
 * collecting it, or closing the loop lets it go, and clears the pointer. Letting go of a
 * session whose process may still run kills that process in the background: nobody
 * waits. Its user value is a table the Lua layer keeps the session's state in.
 *
 * The object users hold is the userdata itself: lua/sbx/session.lua gives its metatable
 * an __index (fields and methods written in Lua). The functions below are the Lua
 * layer's, in core.session_ops; each takes the session first:
 *
 *   core.session{address=, port=, unix_socket=, host=, authorization=, path=, tls=}
 *        --> session, connecting (address: numeric or a name, resolved off the loop)
 *        --> nil, why, kind when it cannot start (sbxd's unix socket refuses it, no
 *        memory, lws cannot be set up)
 *   ops.poll(s [, max [, max_bytes]]) --> array of events, oldest first, and the number left:
 *        {type="open"}                               the connection is up
 *        {type="stdout"|"stderr", data=}              output, as it came
 *        {type="status", data=}                       a status message's JSON
 *        {type="closed", code=, reason=}              the connection closed (code 0: no
 *                                                     close frame came, a cut)
 *        {type="error", status=, message=, reached=}  it failed before it was up (status:
 *                                                     that of a refused upgrade, or 0;
 *                                                     reached: its upgrade request had
 *                                                     gone out to a server)
 *   ops.connect(s, path) --> true | nil, message: a new connection, once the last ended
 *   ops.write(s, data, from) --> how many bytes of data, from index `from`, were queued
 *        (0 when the queue is full) | nil, message
 *   ops.eof(s) --> true | nil, message
 *   ops.control(s, channel, payload) --> true, or false when the control queue is full
 *        | nil, message
 *   ops.control_queued(s) --> bytes of control messages queued, not yet written
 *   ops.written(s), ops.accepted(s) --> stdin bytes written to the socket, and queued, ever
 *   ops.keepalive(s, seconds); ops.finished(s); ops.poke(s)
 *   ops.stdin_resume(s, units | nil) --> true | nil, message: the start status said where
 *        the session's stdin stands on the server (nil: it keeps no count)
 *   ops.stdin_counted(s, units): a stdin status
 *   ops.connected(s) --> "idle" | "resolving" | "connecting" | "open"
 *   ops.backlog(s) --> bytes of events queued (0 when closed)
 *   ops.state(s) --> the user value table (also of a closed session)
 *   ops.closed(s) --> whether it was closed
 *   ops.close(s) (also __close, __gc): idempotent; never raises, never calls Lua
 */
#include <stdlib.h>
#include <string.h>
#include "binding.h"
#include "l_session.h"
#include "protocol.h"
#include "session.h"

struct l_session {
    struct sbx_session *s;
};

static struct l_session *check_ls(lua_State *L)
{
    return luaL_checkudata(L, 1, SBXL_SESSION_MT);
}

static struct sbx_session *check_open(lua_State *L)
{
    struct l_session *u = check_ls(L);
    if (!u->s) luaL_error(L, "attempt to use a closed session");
    return u->s;
}

static int fail(lua_State *L, const char *message)
{
    lua_pushnil(L);
    lua_pushstring(L, message);
    return 2;
}

static void push_event(lua_State *L, const struct sbx_sev *ev)
{
    lua_createtable(L, 0, 3);
    switch (ev->type) {
    case SBX_SEV_OPEN:
        lua_pushliteral(L, "open");
        break;
    case SBX_SEV_OUTPUT:
        lua_pushstring(L, ev->channel == SBX_WS_STDERR ? SBX_EV_STDERR : SBX_EV_STDOUT);
        lua_pushlstring(L, ev->data, ev->len), lua_setfield(L, -3, "data");
        break;
    case SBX_SEV_STATUS:
        lua_pushliteral(L, "status");
        lua_pushlstring(L, ev->data, ev->len), lua_setfield(L, -3, "data");
        break;
    case SBX_SEV_CLOSED:
        lua_pushliteral(L, "closed");
        lua_pushinteger(L, ev->code), lua_setfield(L, -3, "code");
        lua_pushlstring(L, ev->data, ev->len), lua_setfield(L, -3, "reason");
        break;
    case SBX_SEV_ERROR:
        lua_pushliteral(L, "error");
        lua_pushinteger(L, ev->code), lua_setfield(L, -3, "status");
        lua_pushlstring(L, ev->data, ev->len), lua_setfield(L, -3, "message");
        lua_pushboolean(L, ev->reached), lua_setfield(L, -3, "reached");
        break;
    }
    lua_setfield(L, -2, "type");
}

/* ops.poll(s [, max [, max_bytes]]): what one call turns into Lua strings is bounded. */
static int s_poll(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    lua_Integer max = luaL_optinteger(L, 2, 0), max_bytes = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, max >= 0, 2, "must be a non-negative integer");
    luaL_argcheck(L, max_bytes >= 0, 3, "must be a non-negative integer");
    lua_newtable(L);
    lua_Integer n = 0;
    size_t bytes = 0;
    struct sbx_sev *ev;
    while ((max == 0 || n < max) && (max_bytes == 0 || bytes < (size_t)max_bytes) &&
           (ev = sbx_session_pop(s))) {
        bytes += ev->len;
        push_event(L, ev);
        free(ev);
        lua_rawseti(L, -2, ++n);
    }
    lua_pushinteger(L, (lua_Integer)s->nevents);
    return 2;
}

static int s_connect(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    const char *path = luaL_checkstring(L, 2), *why;
    if (sbx_session_connect(s, path, &why) != 0) return fail(L, why);
    lua_pushboolean(L, 1);
    return 1;
}

static int s_write(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    lua_Integer from = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, from >= 1 && (size_t)from <= len + 1, 3, "out of range");
    long n = sbx_session_write(s, data + from - 1, len - (size_t)(from - 1));
    if (n < 0) return fail(L, "out of memory");
    lua_pushinteger(L, n);
    return 1;
}

static int s_eof(lua_State *L)
{
    if (sbx_session_eof(check_open(L)) != 0) return fail(L, "out of memory");
    lua_pushboolean(L, 1);
    return 1;
}

static int s_control(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    lua_Integer channel = luaL_checkinteger(L, 2);
    luaL_argcheck(L, channel >= 0 && channel <= 255, 2, "must be a channel (0..255)");
    size_t len;
    const char *payload = luaL_checklstring(L, 3, &len);
    int rc = sbx_session_control(s, (int)channel, payload, len);
    if (rc < 0) return fail(L, "out of memory");
    lua_pushboolean(L, rc == 0);
    return 1;
}

static int s_control_queued(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_open(L)->tx.control_queued);
    return 1;
}

static int s_written(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_open(L)->tx.stdin_written);
    return 1;
}

static int s_accepted(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_open(L)->tx.stdin_accepted);
    return 1;
}

static int s_keepalive(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    sbx_session_keepalive(s, luaL_checknumber(L, 2));
    return 0;
}

/* A count of stdin units from a status message: an integer >= 0. */
static uint64_t check_units(lua_State *L, int arg)
{
    lua_Integer n = luaL_checkinteger(L, arg);
    luaL_argcheck(L, n >= 0, arg, "must be a count (>= 0)");
    return (uint64_t)n;
}

static int s_stdin_resume(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    int known = !lua_isnoneornil(L, 2);
    if (sbx_session_stdin_resume(s, known, known ? check_units(L, 2) : 0) != 0) return fail(L, "out of memory");
    lua_pushboolean(L, 1);
    return 1;
}

static int s_stdin_counted(lua_State *L)
{
    struct sbx_session *s = check_open(L);
    sbx_session_stdin_counted(s, check_units(L, 2));
    return 0;
}

static int s_finished(lua_State *L)
{
    sbx_session_finished(check_open(L));
    return 0;
}

static int s_poke(lua_State *L)
{
    sbx_session_poke(check_open(L));
    return 0;
}

static int s_connected(lua_State *L)
{
    static const char *const NAMES[] = {"idle", "resolving", "connecting", "open"};
    lua_pushstring(L, NAMES[check_open(L)->state]);
    return 1;
}

static int s_backlog(lua_State *L)
{
    const struct sbx_session *s = check_ls(L)->s;
    lua_pushinteger(L, s ? (lua_Integer)sbx_session_backlog(s) : 0);
    return 1;
}

static int s_state(lua_State *L)
{
    check_ls(L);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

static int s_closed(lua_State *L)
{
    lua_pushboolean(L, check_ls(L)->s == NULL);
    return 1;
}

/* close, __close and __gc: one idempotent destroy; never raises, never calls Lua, never
 * waits (the kill of a process that may run goes out in the background). */
static int s_close(lua_State *L)
{
    struct l_session *u = check_ls(L);
    if (!u->s) return 0;
    struct sbx_session *s = u->s;
    u->s = NULL;
    s->owner = NULL;
    sbxl_push_anchors(L);
    lua_pushlightuserdata(L, &s->node);
    lua_pushnil(L);
    lua_rawset(L, -3);
    sbx_session_release(s);
    return 0;
}

static int s_tostring(lua_State *L)
{
    struct l_session *u = check_ls(L);
    if (u->s) lua_pushfstring(L, "sbx.session (%p)", (void *)u->s);
    else lua_pushliteral(L, "sbx.session (closed)");
    return 1;
}

static const char *opt_field(lua_State *L, const char *field)
{
    lua_getfield(L, 1, field);
    luaL_argexpected(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING, 1, field);
    return lua_tostring(L, -1); /* stays on the stack: the table holds it anyway */
}

/* core.session{...} -> session, or nil, message, kind. */
static int l_session(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct sbx_ws_target t = {0};
    t.address = opt_field(L, "address");
    t.unix_socket = opt_field(L, "unix_socket");
    t.host = opt_field(L, "host");
    t.authorization = opt_field(L, "authorization");
    const char *path = opt_field(L, "path");
    luaL_argexpected(L, path != NULL, 1, "'path'");
    lua_getfield(L, 1, "port");
    lua_Integer port = luaL_optinteger(L, -1, 0);
    luaL_argcheck(L, port >= 0 && port <= 65535, 1, "'port' must be 0..65535");
    t.port = (int)port;
    lua_getfield(L, 1, "tls");
    t.tls = lua_toboolean(L, -1);
    struct sbx_client *C = sbxl_client(L);
    struct l_session *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->s = NULL;
    luaL_setmetatable(L, SBXL_SESSION_MT);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    const char *why;
    struct sbx_session *s = sbx_session_new(C, &t, path, &why);
    if (!s) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        lua_pushstring(L, SBX_ERR_SANDBOX);
        return 3;
    }
    u->s = s;
    s->owner = (void **)&u->s;
    sbxl_push_anchors(L);
    lua_pushlightuserdata(L, &s->node);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return 1;
}

static int l_session_metatable(lua_State *L)
{
    luaL_getmetatable(L, SBXL_SESSION_MT);
    return 1;
}

static const luaL_Reg OPS[] = {
    {"poll", s_poll}, {"connect", s_connect}, {"write", s_write}, {"eof", s_eof},
    {"control", s_control}, {"control_queued", s_control_queued}, {"written", s_written}, {"accepted", s_accepted},
    {"keepalive", s_keepalive}, {"finished", s_finished}, {"poke", s_poke},
    {"stdin_resume", s_stdin_resume}, {"stdin_counted", s_stdin_counted},
    {"connected", s_connected}, {"backlog", s_backlog}, {"state", s_state},
    {"closed", s_closed}, {"close", s_close}, {NULL, NULL}};

static const struct sbxl_class SESSION_CLASS = {
    .name = SBXL_SESSION_MT, .close = s_close, .tostring = s_tostring, .methods = NULL};

static const luaL_Reg FUNCS[] = {
    {"session", l_session}, {"session_metatable", l_session_metatable}, {NULL, NULL}};

void sbxl_open_session(lua_State *L, const struct sbxl_module *m)
{
    sbxl_newclass(L, m, &SESSION_CLASS);
    sbxl_setfuncs(L, m, FUNCS);
    lua_newtable(L);
    int ops = lua_gettop(L);
    for (const luaL_Reg *f = OPS; f->name; f++) {
        lua_pushvalue(L, m->loop);
        lua_pushvalue(L, m->anchors);
        lua_pushcclosure(L, f->func, SBXL_NUPVALUES);
        lua_setfield(L, ops, f->name);
    }
    lua_pushvalue(L, m->table);
    lua_pushvalue(L, ops);
    lua_setfield(L, -2, "session_ops");
    lua_pop(L, 2);
}
