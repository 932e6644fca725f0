/* The sockets curl asks to have watched (CURLMOPT_SOCKETFUNCTION), on the uv loop: one
 * uv_poll per fd, in a table indexed by fd. Between transfers a connection's watcher stays
 * registered (parked) until curl closes the fd. Activity is reported through the function
 * the owner registered, in curl's terms (CURL_CSELECT_* flags). */
#ifndef SBX_SOCKWATCH_H
#define SBX_SOCKWATCH_H
#include <curl/curl.h>
#include <stddef.h>
#include <uv.h>

typedef void (*sbx_sock_activity_fn)(void *ud, curl_socket_t fd, int cselect_flags);

struct sbx_sock;

struct sbx_sockwatch {
    uv_loop_t *uv;
    struct sbx_sock **socks;   /* by fd; NULL where none was made */
    size_t nsocks;
    sbx_sock_activity_fn on_activity;
    void *ud;
};

void sbx_sockwatch_init(struct sbx_sockwatch *w, uv_loop_t *uv, sbx_sock_activity_fn on_activity,
                        void *ud);
/* curl's request for fd: `what` is CURL_POLL_IN/OUT/INOUT or CURL_POLL_REMOVE. 0, or -1
 * when no watcher could be made. */
int sbx_sockwatch_watch(struct sbx_sockwatch *w, curl_socket_t fd, int what);
/* curl is about to close fd: its watcher stops first. */
void sbx_sockwatch_forget(struct sbx_sockwatch *w, curl_socket_t fd);
/* Closes every watcher (freed in their close callbacks) and frees the table. */
void sbx_sockwatch_close_all(struct sbx_sockwatch *w);

#endif
