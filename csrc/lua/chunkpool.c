#include "chunkpool.h"

void sbx_chunkpool_init(struct sbx_chunkpool *P, lua_State *L, size_t size)
{
    P->alloc = lua_getallocf(L, &P->ud);
    P->size = size;
    P->n = 0;
}

static void *pooled_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sbx_chunkpool *P = ud;
    if (!ptr && nsize == P->size && P->n > 0) return P->blocks[--P->n];
    if (ptr && nsize == 0 && osize == P->size && P->n < SBX_CHUNKPOOL_MAX) {
        P->blocks[P->n++] = ptr;
        return NULL;
    }
    return P->alloc(P->ud, ptr, osize, nsize);
}

int sbx_chunkpool_pcall(struct sbx_chunkpool *P, lua_State *L, int nargs, int nresults)
{
    void *ud;
    lua_Alloc now = lua_getallocf(L, &ud);
    if (!P->alloc || now != P->alloc || ud != P->ud) return lua_pcall(L, nargs, nresults, 0);
    lua_setallocf(L, pooled_alloc, P);
    int rc = lua_pcall(L, nargs, nresults, 0);
    lua_setallocf(L, now, ud);
    return rc;
}

void sbx_chunkpool_free(struct sbx_chunkpool *P)
{
    while (P->n > 0) P->alloc(P->ud, P->blocks[--P->n], P->size, 0);
    P->alloc = NULL;
}
