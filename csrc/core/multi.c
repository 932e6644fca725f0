#include "multi.h"
#include "cloexec.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int sbx_curl_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc == CURLE_OK ? 0 : -1;
}

/* Tells the owners of the transfers curl has finished. */
static void report_done(struct sbx_multi *M)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(M->handle, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct sbx_transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t) t->done(t, msg->data.result);
    }
}

static void on_activity(void *ud, curl_socket_t fd, int flags)
{
    struct sbx_multi *M = ud;
    int running;
    curl_multi_socket_action(M->handle, fd, flags, &running);
    report_done(M);
}

static void on_timer(uv_timer_t *timer)
{
    struct sbx_multi *M = timer->data;
    int running;
    curl_multi_socket_action(M->handle, CURL_SOCKET_TIMEOUT, 0, &running);
    report_done(M);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct sbx_multi *M = userp;
    if (timeout_ms < 0) return uv_timer_stop(&M->timer);
    /* Never act from inside this callback: a 0 ms timer fires on the next iteration. */
    return uv_timer_start(&M->timer, on_timer, (uint64_t)timeout_ms, 0);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy, (void)socketp;
    struct sbx_multi *M = userp;
    return sbx_sockwatch_watch(&M->sockets, fd, what);
}

/* CURLOPT_OPENSOCKETFUNCTION: curl's own socket(), made close-on-exec, so that a child
 * the host starts (io.popen, os.execute) holds no connection to sbxd open after the client
 * closes it: sbxd must see a reader go when the client lets it go. */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)userp;
    (void)purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* CURLOPT_CLOSESOCKETFUNCTION: the watcher stops before the fd is closed. */
static int on_close_socket(void *userp, curl_socket_t fd)
{
    struct sbx_multi *M = userp;
    sbx_sockwatch_forget(&M->sockets, fd);
    return close(fd);
}

int sbx_multi_init(struct sbx_multi *M, uv_loop_t *uv)
{
    if (sbx_curl_global_init() != 0) return -1;
    struct sbx_free_fds fresh;
    sbx_free_fds_note(&fresh);
    M->handle = curl_multi_init();
    sbx_free_fds_cloexec(&fresh); /* its wakeup socketpair */
    if (!M->handle) return -1;
    uv_timer_init(uv, &M->timer);
    M->timer.data = M;
    sbx_sockwatch_init(&M->sockets, uv, on_activity, M);
    curl_multi_setopt(M->handle, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(M->handle, CURLMOPT_SOCKETDATA, M);
    curl_multi_setopt(M->handle, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(M->handle, CURLMOPT_TIMERDATA, M);
    return 0;
}

void sbx_multi_close(struct sbx_multi *M)
{
    curl_multi_cleanup(M->handle); /* closes cached connections: close-socket callbacks */
    M->handle = NULL;
    sbx_sockwatch_close_all(&M->sockets);
    uv_close((uv_handle_t *)&M->timer, NULL);
}

CURLMcode sbx_multi_add(struct sbx_multi *M, struct sbx_transfer *t)
{
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETDATA, M);
    return curl_multi_add_handle(M->handle, t->easy);
}

void sbx_multi_remove(struct sbx_multi *M, struct sbx_transfer *t)
{
    curl_multi_remove_handle(M->handle, t->easy);
}
