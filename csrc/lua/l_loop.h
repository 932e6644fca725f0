/* The "sbx.loop" userdata and the module functions that drive it. */
#ifndef SBXL_L_LOOP_H
#define SBXL_L_LOOP_H
#include "binding.h"

/* Pushes a new loop userdata with its client core started; raises when it cannot be. */
void sbxl_new_loop(lua_State *L);
/* core.step, core.ready, core.pollfd, core.timeout. */
void sbxl_open_loop(lua_State *L, const struct sbxl_module *m);

#endif
