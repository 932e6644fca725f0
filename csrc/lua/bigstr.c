#include "bigstr.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 * 1024 * 1024)

/* The state's allocator, for the one call that wraps it. */
struct wrapped {
    lua_Alloc alloc;
    void *ud;
    size_t min;
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

void sbx_push_big_string(lua_State *L, const char *s, size_t len)
{
    if (len < SBX_BIGSTR_MIN) {
        lua_pushlstring(L, s, len);
        return;
    }
    /* Everything allocated or freed meanwhile (a GC step the push runs, the call's own
     * frame) goes through the wrapper to the state's allocator unchanged. */
    struct wrapped w;
    w.alloc = lua_getallocf(L, &w.ud);
    w.min = len;
    lua_pushcfunction(L, push_string);
    lua_pushlightuserdata(L, (void *)s);
    lua_pushinteger(L, (lua_Integer)len);
    lua_setallocf(L, advising_alloc, &w);
    int rc = lua_pcall(L, 2, 1, 0);
    lua_setallocf(L, w.alloc, w.ud);
    if (rc != LUA_OK) lua_error(L);
}
