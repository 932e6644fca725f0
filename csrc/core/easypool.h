/* Finished easy handles kept for the next requests: a fresh handle costs fresh buffers,
 * and fresh pages, on every request, while a reset one keeps them. */
#ifndef SBX_EASYPOOL_H
#define SBX_EASYPOOL_H
#include <curl/curl.h>

#define SBX_EASYPOOL_SIZE 8

struct sbx_easypool {
    CURL *spare[SBX_EASYPOOL_SIZE];
    int nspare;
};

/* A handle with every option at its default: a spare one, else a new one; NULL on OOM. */
CURL *sbx_easypool_get(struct sbx_easypool *P);
/* Takes back a handle its transfer is done with (out of any multi): kept, or freed when
 * the pool is full. */
void sbx_easypool_put(struct sbx_easypool *P, CURL *easy);
/* Frees every spare handle. */
void sbx_easypool_free(struct sbx_easypool *P);

#endif
