/* Lua strings of many megabytes (a command's collected output) made without a page
 * fault per 4 KiB. */
#ifndef SBX_BIGSTR_H
#define SBX_BIGSTR_H
#include <lua.h>
#include <stddef.h>

/* Like lua_pushlstring. A string of SBX_BIGSTR_MIN bytes or more is allocated by the
 * state's own allocator as always, then advised to use huge pages before its bytes are
 * copied in. */
void sbx_push_big_string(lua_State *L, const char *s, size_t len);

#define SBX_BIGSTR_MIN (4u * 1024u * 1024u)

#endif
