/* sbxd's listening sockets. sbxd parses, binds and listens itself (lws 4.1 binds a vhost's
 * IPv4 `iface` as IPv6 "::", every interface, and unlinks whatever is at a unix path), and
 * accepts on its own loop, handing each connection to an lws vhost that has no listener. */
#ifndef SBXD_LISTEN_H
#define SBXD_LISTEN_H
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#define SBXD_MAX_LISTEN 8

struct lws_vhost;

/* One --listen address, parsed: the socket address to bind. */
struct sbxd_listen_addr {
    struct sockaddr_storage sa;
    socklen_t len;
};

struct sbxd_listener {
    struct sbxd_listeners *set;
    struct sbxd_listen_addr addr;
    int fd;                    /* -1 once closed */
    uv_poll_t poll;            /* readable: connections are waiting */
    int poll_ready;            /* poll initialised (it needs a uv_close) */
    dev_t dev;                 /* unix: the socket file this listener made, */
    ino_t ino;                 /* removed at close if still the same file */
};

struct sbxd_listeners {
    struct sbxd_listener l[SBXD_MAX_LISTEN];
    int n;
    struct lws_vhost *vhost;   /* takes every accepted connection */
    uv_timer_t resume;         /* accepting again after running out of descriptors */
    int resume_ready;          /* timer initialised */
    int quiet;
    int reported;              /* an out-of-descriptors line was logged, */
    uint64_t reported_at;      /* at this uv_now() */
    int reserve;               /* a descriptor held back to refuse connections with when
                                  out of descriptors; -1 while in use or not opened */
};

/* listen_addr.c: "IPv4:PORT", "[IPv6]:PORT", "localhost:PORT" (127.0.0.1) or
 * "unix:PATH". Returns 0, or -1 with the reason in err. */
int sbxd_listen_parse(const char *spec, struct sbxd_listen_addr *a, char *err, size_t errlen);
/* The address a listener has, with its actual port: "127.0.0.1:PORT", "[::1]:PORT",
 * "unix:PATH". */
int sbxd_listen_name(const struct sbxd_listener *l, char *buf, size_t len);

/* listen.c: binds and listens on a new listener of the set. A unix socket is created
 * 0600; a stale socket file at its path is replaced, a live one or any other file is
 * refused. Returns 0, or -1 with the reason in err. */
int sbxd_listen_open(struct sbxd_listeners *ls, const struct sbxd_listen_addr *a, char *err,
                     size_t errlen);
/* Stops accepting, closes every listening socket and removes the unix socket files this
 * process made. Safe on a set only partly opened. */
void sbxd_listen_close(struct sbxd_listeners *ls);

/* accept.c: accepts on every listener of the set from `loop`, handing connections to
 * `vh`. Returns 0, or -1. */
int sbxd_accept_start(struct sbxd_listeners *ls, uv_loop_t *loop, struct lws_vhost *vh);

#endif
