#include "easypool.h"

CURL *sbx_easypool_get(struct sbx_easypool *P)
{
    return P->nspare ? P->spare[--P->nspare] : curl_easy_init();
}

void sbx_easypool_put(struct sbx_easypool *P, CURL *easy)
{
    if (P->nspare < SBX_EASYPOOL_SIZE) {
        curl_easy_reset(easy);
        P->spare[P->nspare++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

void sbx_easypool_free(struct sbx_easypool *P)
{
    while (P->nspare) curl_easy_cleanup(P->spare[--P->nspare]);
}
