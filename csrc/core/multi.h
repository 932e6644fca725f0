/* curl's multi handle on the uv loop (the pattern of curl's docs/examples/multi-uv.c): the
 * sockets it asks for are watched by sockwatch, its timeout is a uv timer, and a transfer
 * that ends is reported to the function its owner registered in it. It knows nothing of
 * what the transfers are for. */
#ifndef SBX_MULTI_H
#define SBX_MULTI_H
#include <curl/curl.h>
#include <uv.h>
#include "sockwatch.h"

/* One transfer on the multi, embedded in its owner: the easy handle, and the function
 * called (from inside the loop's run) when curl says the transfer ended with `result`. */
struct sbx_transfer {
    CURL *easy;
    void (*done)(struct sbx_transfer *t, CURLcode result);
};

struct sbx_multi {
    CURLM *handle;
    uv_timer_t timer;               /* curl's timeout, from CURLMOPT_TIMERFUNCTION */
    struct sbx_sockwatch sockets;
};

/* curl's process-wide initialisation: once, thread-safe. 0 on success. */
int sbx_curl_global_init(void);

/* 0, or -1 when curl could not make a multi handle (nothing to close then). */
int sbx_multi_init(struct sbx_multi *M, uv_loop_t *uv);
/* Frees the multi handle (transfers must have been removed) and closes its uv handles;
 * their memory is released once the loop runs their close callbacks. */
void sbx_multi_close(struct sbx_multi *M);
/* Hands t's easy handle to curl; it starts on the loop's next run. */
CURLMcode sbx_multi_add(struct sbx_multi *M, struct sbx_transfer *t);
/* Takes t's easy handle back from curl: its connection stays cached when the transfer
 * completed, and is closed when it was cut short. */
void sbx_multi_remove(struct sbx_multi *M, struct sbx_transfer *t);

#endif
