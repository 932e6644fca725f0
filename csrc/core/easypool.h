/* Where the client's easy handles come from. Finished handles are kept for the next
 * requests: a fresh handle costs fresh buffers, and fresh pages, on every request, while
 * a reset one keeps them. Every handle made here shares one cache of TLS resumption
 * data: curl otherwise gives each handle a cache of its own (about 1 KiB) as its first
 * transfer starts, and a thousand commands in flight are a thousand handles. */
#ifndef SBX_EASYPOOL_H
#define SBX_EASYPOOL_H
#include <curl/curl.h>

#define SBX_EASYPOOL_SIZE 8

struct sbx_easypool {
    CURL *spare[SBX_EASYPOOL_SIZE];
    int nspare;
    CURLSH *share;   /* the shared TLS cache, made with the first handle; NULL: none */
};

/* A handle with every option at its default: a spare one, else a new one; NULL on OOM. */
CURL *sbx_easypool_get(struct sbx_easypool *P);
/* Takes back a handle its transfer is done with (out of any multi): kept, or freed when
 * the pool is full. */
void sbx_easypool_put(struct sbx_easypool *P, CURL *easy);
/* Frees every spare handle, then the share: every other handle made here must have been
 * freed before. */
void sbx_easypool_free(struct sbx_easypool *P);

#endif
