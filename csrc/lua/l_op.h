/* The "sbx.op" userdata and core.request. */
#ifndef SBXL_L_OP_H
#define SBXL_L_OP_H
#include "binding.h"

void sbxl_open_op(lua_State *L, const struct sbxl_module *m);

#endif
