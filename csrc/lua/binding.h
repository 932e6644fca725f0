/* What the binding's files share. luaopen_sbx_core gives every module function and method
 * two upvalues: 1. the "sbx.loop" userdata (this Lua state's client core), 2. the weak map
 * from an operation's scheduler node (a lightuserdata) to its userdata, which core.ready()
 * uses to hand Lua the operations with events. The map anchors nothing: an operation lives
 * as long as Lua holds its userdata. */
#ifndef SBXL_BINDING_H
#define SBXL_BINDING_H
#include <lua.h>
#include <lauxlib.h>
#include "chunkpool.h"
#include "client.h"

/* The one symbol each shared object exports (built with -fvisibility=hidden). */
#define SBXL_EXPORT __attribute__((visibility("default")))

#define SBXL_LOOP_MT   "sbx.loop"
#define SBXL_OP_MT     "sbx.op"
#define SBXL_DAEMON_MT "sbx.daemon"
#define SBXL_TEMPLATE_MT "sbx.template"
#define SBXL_SESSION_MT "sbx.session"
#define SBXL_NUPVALUES 2

/* Output reaches Lua in strings of at most this many bytes (l_op.c). */
#define SBXL_CHUNK_STRING_MAX (64u * 1024u)

/* The "sbx.loop" userdata: a pointer to the malloc'd client core, NULL once closed, and
 * the pool of blocks output chunk strings are made in. */
struct sbxl_loop {
    struct sbx_client *client;
    struct sbx_chunkpool pool;
    size_t chunk_bytes; /* output made into strings since the collector's last step */
};

/* Stack indexes of the module being built and of the two upvalues its functions get. */
struct sbxl_module {
    int table, loop, anchors;
};

/* A userdata class: its metatable is registered under `name` (which is its __name), with
 * `methods` as __index, and `close` as both __gc and __close. close must be idempotent,
 * must not raise nor call Lua, and must ignore its arguments after the first (__close's
 * second is the error that ends the scope). */
struct sbxl_class {
    const char *name;
    lua_CFunction close;
    lua_CFunction tostring;
    const luaL_Reg *methods;   /* may be NULL */
};

/* Registers a class; its functions get the module's upvalues (none when m is NULL). */
void sbxl_newclass(lua_State *L, const struct sbxl_module *m, const struct sbxl_class *cls);
/* Registers `fns` into the module table, each with the module's upvalues. */
void sbxl_setfuncs(lua_State *L, const struct sbxl_module *m, const luaL_Reg *fns);

/* The "sbx.loop" userdata, upvalue 1. */
struct sbxl_loop *sbxl_loop(lua_State *L);
/* The client core, from upvalue 1; raises when the loop was closed. */
struct sbx_client *sbxl_client(lua_State *L);
/* Pushes upvalue 2, the map from scheduler nodes to userdata. */
void sbxl_push_anchors(lua_State *L);

#endif
