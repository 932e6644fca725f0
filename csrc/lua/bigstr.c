#include "bigstr.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 * 1024 * 1024)

/* The state's allocator, for the one call that wraps it. */
struct wrapped {
    lua_Alloc alloc;
    void *ud;
    size_t min;        /* advising_alloc: the size from which a new block is advised */
    char *block;       /* block_alloc: the block handed over, NULL once Lua took it */
    size_t size;       /* ... and its size; the probe: the size of the string's block */
};

/* The state's allocator, unchanged, except that a new block of w->min bytes or more has
 * the huge pages wholly inside it advised (MADV_HUGEPAGE): the copy into it then faults
 * once per 2 MiB. The advice changes nothing about who owns the block or how it is freed;
 * where transparent huge pages are off, or the allocator's memory cannot take them, it
 * fails and nothing changes. */
static void *advising_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct wrapped *w = ud;
    void *p = w->alloc(w->ud, ptr, osize, nsize);
    if (p && !ptr && nsize >= w->min) {
        uintptr_t from = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t to = ((uintptr_t)p + nsize) & ~(HUGE_PAGE - 1);
        if (to > from) madvise((void *)from, to - from, MADV_HUGEPAGE);
    }
    return p;
}

/* lua_pushlstring(s, len), in a protected call: it raises on out of memory, and the
 * allocator must be put back before anything is raised on. */
static int push_string(lua_State *L)
{
    const char *s = lua_touserdata(L, 1);
    lua_pushlstring(L, s, (size_t)lua_tointeger(L, 2));
    return 1;
}

/* Calls push_string(s, len) with the state's allocator replaced by `with` (whose ud is w)
 * for the call; returns lua_pcall's status, its result or error on the stack. */
static int push_wrapped(lua_State *L, lua_Alloc with, struct wrapped *w, const char *s,
                        size_t len)
{
    lua_pushcfunction(L, push_string);
    lua_pushlightuserdata(L, (void *)s);
    lua_pushinteger(L, (lua_Integer)len);
    lua_setallocf(L, with, w);
    int rc = lua_pcall(L, 2, 1, 0);
    lua_setallocf(L, w->alloc, w->ud);
    return rc;
}

void sbx_push_big_string(lua_State *L, const char *s, size_t len)
{
    if (len < SBX_BIGSTR_MIN) {
        lua_pushlstring(L, s, len);
        return;
    }
    /* Everything allocated or freed meanwhile (a GC step the push runs, the call's own
     * frame) goes through the wrapper to the state's allocator unchanged. */
    struct wrapped w = {.min = len};
    w.alloc = lua_getallocf(L, &w.ud);
    if (push_wrapped(L, advising_alloc, &w, s, len) != LUA_OK) lua_error(L);
}

/* A string's bytes in the probe: long enough never to be interned (Lua interns strings
 * of 40 bytes or fewer). */
#define PROBE_LEN 64

/* The state's allocator, unchanged, except that it notes the size and place of the
 * block the probe's string is made in. */
static void *noting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct wrapped *w = ud;
    void *p = w->alloc(w->ud, ptr, osize, nsize);
    if (p && !ptr && osize == LUA_TSTRING && nsize > PROBE_LEN && !w->block)
        w->block = p, w->size = nsize;
    return p;
}

size_t sbx_string_head(lua_State *L)
{
    static const char probe[PROBE_LEN] = "the header of a long string, before its bytes";
    struct wrapped w = {0};
    w.alloc = lua_getallocf(L, &w.ud);
    if (push_wrapped(L, noting_alloc, &w, probe, PROBE_LEN) != LUA_OK) lua_error(L);
    const char *bytes = lua_tostring(L, -1);
    size_t head = (size_t)(bytes - w.block);
    lua_pop(L, 1);
    /* the bytes inside the block noted, after a header, with room for the NUL only */
    if (!w.block || bytes <= w.block || w.size != head + PROBE_LEN + 1) return 0;
    return head;
}

/* The state's allocator, except that the string's block asked for is w->block, once. */
static void *block_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct wrapped *w = ud;
    if (!ptr && osize == LUA_TSTRING && nsize == w->size && w->block) {
        void *p = w->block;
        w->block = NULL;
        return p;
    }
    return w->alloc(w->ud, ptr, osize, nsize);
}

void sbx_push_block_string(lua_State *L, lua_Alloc alloc, void *ud, size_t head, char *block,
                           size_t len)
{
    struct wrapped w = {.min = len, .block = block, .size = head + len + 1};
    w.alloc = lua_getallocf(L, &w.ud);
    /* Lua then copies the bytes onto themselves: memcpy with the same source and
     * destination, over memory faulted in already. Should the state have another
     * allocator now, the block is not its to free: the string is a copy. */
    lua_Alloc with = w.alloc == alloc && w.ud == ud ? block_alloc : advising_alloc;
    int rc = push_wrapped(L, with, &w, block + head, len);
    if (w.block) alloc(ud, w.block, w.size, 0); /* Lua made its own */
    if (rc != LUA_OK) lua_error(L);
}
