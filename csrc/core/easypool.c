#include "easypool.h"

/* The share, made once. Without it (curl could not make one) handles keep caches of
 * their own, as they would anyway. */
static CURLSH *tls_cache_share(struct sbx_easypool *P)
{
    if (P->share) return P->share;
    CURLSH *sh = curl_share_init();
    if (sh && curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        curl_share_cleanup(sh);
        sh = NULL;
    }
    return P->share = sh;
}

/* A new handle joins the share before its first transfer, while it has no cache of its
 * own (curl would drop that one without freeing it). A reset keeps the share. */
static CURL *new_handle(struct sbx_easypool *P)
{
    CURL *easy = curl_easy_init();
    CURLSH *sh = easy ? tls_cache_share(P) : NULL;
    if (sh) curl_easy_setopt(easy, CURLOPT_SHARE, sh);
    return easy;
}

CURL *sbx_easypool_get(struct sbx_easypool *P)
{
    return P->nspare ? P->spare[--P->nspare] : new_handle(P);
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
    if (P->share) curl_share_cleanup(P->share);
    P->share = NULL;
}
