/* Binding and listening: TCP on exactly the address given, unix sockets private from the
 * moment they exist; closing, with the removal of the socket files made here. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "listen.h"

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

static const char *unix_path(const struct sbxd_listen_addr *a)
{
    return ((const struct sockaddr_un *)&a->sa)->sun_path;
}

/* Whether a server accepts connections at this unix path: a connect that is accepted, or
 * that would wait on a full backlog (non-blocking: EAGAIN), finds one; ECONNREFUSED finds
 * a socket file nobody listens on. Returns 1, 0, or -1 (cannot tell, errno set). */
static int unix_path_is_live(const struct sbxd_listen_addr *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
    int saved = errno;
    close(fd);
    if (rc == 0 || saved == EAGAIN) return 1;
    if (saved == ECONNREFUSED) return 0;
    errno = saved;
    return -1;
}

/* Makes the path free for bind: nothing there, or a stale socket file (left by a server
 * that died), which is removed. A live server's socket and any other file stay. */
static int clear_unix_path(const struct sbxd_listen_addr *a, char *err, size_t errlen)
{
    struct stat st;
    const char *path = unix_path(a);
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : fail(err, errlen, path);
    if (!S_ISSOCK(st.st_mode)) return snprintf(err, errlen, "%s exists and is not a socket", path), -1;
    int live = unix_path_is_live(a);
    if (live < 0) return fail(err, errlen, path);
    if (live) return snprintf(err, errlen, "a server is already listening on %s", path), -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : fail(err, errlen, path);
}

/* The socket file takes its mode from the umask at bind: 0600 from the first instant, so
 * no other user can connect in between (as with a chmod after the bind). The umask is the
 * process's; sbxd binds before it starts any thread or command, so nothing else sees it. */
static int bind_unix(struct sbxd_listener *l, char *err, size_t errlen)
{
    struct stat st;
    if (clear_unix_path(&l->addr, err, errlen) != 0) return -1;
    mode_t old = umask(0177);
    int rc = bind(l->fd, (const struct sockaddr *)&l->addr.sa, l->addr.len);
    int saved = errno;
    umask(old);
    errno = saved;
    if (rc != 0) return fail(err, errlen, "bind");
    if (stat(unix_path(&l->addr), &st) != 0) return fail(err, errlen, "stat");
    l->dev = st.st_dev, l->ino = st.st_ino;
    return 0;
}

/* SO_REUSEADDR lets a restart bind while old connections are in TIME_WAIT (on Linux it
 * never lets two sockets listen on one address). IPV6_V6ONLY keeps [::] to IPv6. */
static int bind_tcp(struct sbxd_listener *l, char *err, size_t errlen)
{
    int on = 1;
    if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return fail(err, errlen, "SO_REUSEADDR");
    if (l->addr.sa.ss_family == AF_INET6 &&
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
        return fail(err, errlen, "IPV6_V6ONLY");
    if (bind(l->fd, (const struct sockaddr *)&l->addr.sa, l->addr.len) != 0) return fail(err, errlen, "bind");
    return 0;
}

int sbxd_listen_open(struct sbxd_listeners *ls, const struct sbxd_listen_addr *a, char *err,
                     size_t errlen)
{
    if (ls->n == SBXD_MAX_LISTEN) return snprintf(err, errlen, "too many listeners"), -1;
    struct sbxd_listener *l = &ls->l[ls->n];
    memset(l, 0, sizeof *l);
    l->set = ls;
    l->addr = *a;
    l->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) return fail(err, errlen, "socket");
    ls->n++; /* from here on sbxd_listen_close closes it */
    int bound = a->sa.ss_family == AF_UNIX ? bind_unix(l, err, errlen) : bind_tcp(l, err, errlen);
    if (bound != 0) return -1;
    return listen(l->fd, SOMAXCONN) == 0 ? 0 : fail(err, errlen, "listen");
}

/* Removes the socket file if it is still the one this listener made. */
static void remove_unix_file(const struct sbxd_listener *l)
{
    struct stat st;
    const char *path = unix_path(&l->addr);
    if (l->ino && stat(path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino) unlink(path);
}

/* uv_close takes the fd out of the loop's epoll set at once, so closing it right after
 * is safe; the handles' memory is the set's, which outlives the loop. */
void sbxd_listen_close(struct sbxd_listeners *ls)
{
    if (ls->resume_ready && !uv_is_closing((uv_handle_t *)&ls->resume)) uv_close((uv_handle_t *)&ls->resume, NULL);
    if (ls->resume_ready && ls->reserve >= 0) close(ls->reserve);
    ls->reserve = -1;
    for (int i = 0; i < ls->n; i++) {
        struct sbxd_listener *l = &ls->l[i];
        if (l->poll_ready && !uv_is_closing((uv_handle_t *)&l->poll)) uv_close((uv_handle_t *)&l->poll, NULL);
        if (l->fd < 0) continue;
        close(l->fd);
        l->fd = -1;
        if (l->addr.sa.ss_family == AF_UNIX) remove_unix_file(l);
    }
}
