/* The "sbx.daemon" userdata and core.spawn_daemon. */
#ifndef SBXL_L_DAEMON_H
#define SBXL_L_DAEMON_H
#include "binding.h"

void sbxl_open_daemon(lua_State *L, const struct sbxl_module *m);

#endif
