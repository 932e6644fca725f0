#include "binding.h"

static void set_funcs(lua_State *L, const struct sbxl_module *m, const luaL_Reg *fns)
{
    for (; fns->name; fns++) {
        if (m) {
            lua_pushvalue(L, m->loop);
            lua_pushvalue(L, m->anchors);
        }
        lua_pushcclosure(L, fns->func, m ? SBXL_NUPVALUES : 0);
        lua_setfield(L, -2, fns->name);
    }
}

void sbxl_newclass(lua_State *L, const struct sbxl_module *m, const struct sbxl_class *cls)
{
    luaL_newmetatable(L, cls->name); /* sets __name */
    const luaL_Reg meta[] = {
        {"__gc", cls->close}, {"__close", cls->close}, {"__tostring", cls->tostring}, {NULL, NULL}};
    set_funcs(L, m, meta);
    if (cls->methods) {
        lua_newtable(L);
        set_funcs(L, m, cls->methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

void sbxl_setfuncs(lua_State *L, const struct sbxl_module *m, const luaL_Reg *fns)
{
    lua_pushvalue(L, m->table);
    set_funcs(L, m, fns);
    lua_pop(L, 1);
}

struct sbxl_loop *sbxl_loop(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

struct sbx_client *sbxl_client(lua_State *L)
{
    struct sbxl_loop *u = sbxl_loop(L);
    if (!u->client) luaL_error(L, "attempt to use a closed sbx.loop");
    return u->client;
}

void sbxl_push_anchors(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(2));
}
