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

/* How many bytes a long string's block holds before its bytes in this Lua (the string's
 * header), told by making one: 0 when that cannot be told. */
size_t sbx_string_head(lua_State *L);

/* Pushes the string whose len bytes are in place in `block`, `head` (sbx_string_head)
 * bytes in and followed by a NUL, a block of exactly head + len + 1 bytes from the
 * state's allocator `alloc` (with its `ud`), which the call takes over: the string is
 * made in that very block, so its bytes are not copied to fresh memory. Where the
 * state's allocator is no longer alloc, or Lua does not ask for that block, the bytes are
 * copied as by lua_pushlstring and the block freed. Raises on out of memory, the block
 * freed or owned by the state. */
void sbx_push_block_string(lua_State *L, lua_Alloc alloc, void *ud, size_t head, char *block,
                           size_t len);

#endif
