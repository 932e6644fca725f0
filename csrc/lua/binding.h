/* Shared by the binding's files. Every module function and method has two upvalues:
 * 1. the "sbx.loop" userdata (this Lua state's loop), 2. the anchor table that keeps an
 * in-flight operation's userdata alive while curl owns it (lightuserdata -> userdata). */
#ifndef SBXL_BINDING_H
#define SBXL_BINDING_H
#include <lua.h>
#include <lauxlib.h>
#include "loop.h"

#define SBXL_LOOP_MT   "sbx.loop"
#define SBXL_OP_MT     "sbx.op"
#define SBXL_DAEMON_MT "sbx.daemon"
#define SBXL_NUPVALUES 2

struct sbx_loop *sbxl_loop(lua_State *L);      /* from upvalue 1 */
void sbxl_push_anchors(lua_State *L);           /* pushes upvalue 2 */

/* Registers `fns` into the table at the top of the stack, each with the two upvalues
 * found at stack indexes loop_idx and anchors_idx. */
void sbxl_setfuncs(lua_State *L, const luaL_Reg *fns, int loop_idx, int anchors_idx);

void sbxl_open_op(lua_State *L, int loop_idx, int anchors_idx);
void sbxl_open_daemon(lua_State *L, int loop_idx, int anchors_idx);
int sbxl_request(lua_State *L);
int sbxl_spawn_daemon(lua_State *L);

#endif
