/* The "sbx.session" userdata, core.session and core.session_ops. */
#ifndef SBXL_L_SESSION_H
#define SBXL_L_SESSION_H
#include "binding.h"

void sbxl_open_session(lua_State *L, const struct sbxl_module *m);

#endif
