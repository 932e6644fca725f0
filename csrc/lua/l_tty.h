/* The "sbx.tty" userdata and the terminal and descriptor functions of the command line. */
#ifndef SBXL_L_TTY_H
#define SBXL_L_TTY_H
#include "binding.h"

void sbxl_open_tty(lua_State *L, const struct sbxl_module *m);

#endif
