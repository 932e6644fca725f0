/* sbx.testing: what only the specs and the benchmarks use, built beside sbx.core
 * (build/sbx/testing.so) and never installed.
 *
 *   testing.kill(daemon, signal) --> true when the signal was sent to that sbxd
 *   testing.getpid()             --> this process's pid
 *   testing.heap_in_use()        --> bytes malloc has handed out and not taken back (the
 *                                    Lua heap, curl's and sbx's C memory: all of it)
 *   testing.trim()               --> gives the free pages of malloc's heap back to the
 *                                    system, so that the resident size counts live memory
 *   testing.write_fresh(bytes)   --> true once that much fresh memory (a new mapping,
 *                                    advised huge pages as output is) was written a byte a
 *                                    page and given back: what any process pays for
 *                                    memory it has not had before, timed by the caller
 */
#include <lauxlib.h>
#include <lua.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include "binding.h"
#include "daemon.h"

/* Only while the child is not reaped: after that its pid may be another process's. */
static int l_kill(lua_State *L)
{
    struct sbx_daemon *d = luaL_checkudata(L, 1, SBXL_DAEMON_MT);
    lua_Integer sig = luaL_checkinteger(L, 2);
    luaL_argcheck(L, sig > 0 && sig < 65, 2, "must be a signal number");
    lua_pushboolean(L, !d->reaped && d->pid > 0 && kill(d->pid, (int)sig) == 0);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

/* Chunks in use on the heaps and in mappings of their own: the bytes allocated, whether
 * or not their pages were ever touched. */
static int l_heap_in_use(lua_State *L)
{
    struct mallinfo2 mi = mallinfo2();
    lua_pushinteger(L, (lua_Integer)(mi.uordblks + mi.hblkhd));
    return 1;
}

static int l_trim(lua_State *L)
{
    malloc_trim(0);
    (void)L;
    return 0;
}

static int l_write_fresh(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0, 1, "must be a positive size");
    char *p = mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return luaL_error(L, "write_fresh: out of memory");
    madvise(p, (size_t)n, MADV_HUGEPAGE);
    for (size_t at = 0; at < (size_t)n; at += 4096) p[at] = 1;
    munmap(p, (size_t)n);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg FUNCS[] = {{"kill", l_kill},
                                 {"getpid", l_getpid},
                                 {"heap_in_use", l_heap_in_use},
                                 {"trim", l_trim},
                                 {"write_fresh", l_write_fresh},
                                 {NULL, NULL}};

SBXL_EXPORT int luaopen_sbx_testing(lua_State *L);

int luaopen_sbx_testing(lua_State *L)
{
    luaL_newlib(L, FUNCS);
    return 1;
}
