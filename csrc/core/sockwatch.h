/* The sockets curl asks the loop to watch (CURLMOPT_SOCKETFUNCTION): one uv_poll per fd,
 * in a table indexed by fd. Between transfers a connection's watcher stays registered
 * (parked) until curl closes the fd. */
#ifndef SBX_SOCKWATCH_H
#define SBX_SOCKWATCH_H
#include <curl/curl.h>

struct sbx_loop;

/* curl's socket callback; userp is the loop. */
int sbx_sockwatch_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);
/* curl's close-socket callback (CURLOPT_CLOSESOCKETFUNCTION); userp is the loop. */
int sbx_sockwatch_on_close(void *userp, curl_socket_t fd);
/* Closes every watcher (freed in their close callbacks) and frees the table. */
void sbx_sockwatch_close_all(struct sbx_loop *L);

#endif
