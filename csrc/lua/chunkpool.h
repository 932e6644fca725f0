/* Blocks of one size kept for reuse while sbx hands output to Lua in strings of that
 * size. A stream's chunk strings are garbage as soon as their callbacks return, and the
 * collector frees them by the thousand; given back to the allocator each time, the
 * memory goes back to the system too (glibc trims its heap once 128 KiB at its top are
 * free) and comes back as fresh pages, a page fault each, for the next chunks. The pool
 * keeps a few such blocks instead, for the next chunk strings to be made in. */
#ifndef SBX_CHUNKPOOL_H
#define SBX_CHUNKPOOL_H
#include <lua.h>
#include <stddef.h>

#define SBX_CHUNKPOOL_MAX 32

struct sbx_chunkpool {
    lua_Alloc alloc;  /* the state's allocator, every block's; NULL: no pool */
    void *ud;
    size_t size;      /* the blocks' size */
    int n;
    void *blocks[SBX_CHUNKPOOL_MAX];
};

/* A pool of blocks of `size` bytes from the state's current allocator. */
void sbx_chunkpool_init(struct sbx_chunkpool *P, lua_State *L, size_t size);
/* lua_pcall(L, nargs, nresults, 0), with the state's allocator wrapped for the call: a
 * block of the pool's size that Lua frees is kept (up to SBX_CHUNKPOOL_MAX), and one that
 * Lua asks for is a kept one when there is one. Nothing else changes: every block comes
 * from the state's allocator and goes back to it; where the state's allocator is not the
 * pool's any more, the call is a plain lua_pcall. */
int sbx_chunkpool_pcall(struct sbx_chunkpool *P, lua_State *L, int nargs, int nresults);
/* Gives every kept block back to the allocator; the pool is empty and unusable after. */
void sbx_chunkpool_free(struct sbx_chunkpool *P);

#endif
