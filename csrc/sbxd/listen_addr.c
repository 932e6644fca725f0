/* --listen addresses: numeric ones only, so what is bound is exactly what was asked for
 * (no name lookup that might answer with another address, or with several). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include "listen.h"

static int refuse(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

static int parse_port(const char *s, in_port_t *port)
{
    unsigned long n = 0;
    size_t len = strspn(s, "0123456789");
    if (len == 0 || len > 5 || s[len] != '\0') return -1;
    for (size_t i = 0; i < len; i++) n = n * 10 + (unsigned long)(s[i] - '0');
    if (n > 65535) return -1;
    *port = htons((in_port_t)n);
    return 0;
}

static int parse_unix(const char *path, struct sbxd_listen_addr *a, char *err, size_t errlen)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
    size_t len = strlen(path);
    if (len == 0) return refuse(err, errlen, "unix: needs a path");
    if (len >= sizeof un->sun_path) {
        snprintf(err, errlen, "the unix socket path is %zu bytes long; at most %zu fit", len,
                 sizeof un->sun_path - 1);
        return -1;
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len + 1);
    a->len = (socklen_t)sizeof *un;
    return 0;
}

static int parse_ipv6(const char *host, size_t hostlen, in_port_t port, struct sbxd_listen_addr *a)
{
    char text[INET6_ADDRSTRLEN];
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
    if (hostlen >= sizeof text) return -1;
    memcpy(text, host, hostlen);
    text[hostlen] = '\0';
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1) return -1;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port;
    a->len = (socklen_t)sizeof *in6;
    return 0;
}

static int parse_ipv4(const char *host, size_t hostlen, in_port_t port, struct sbxd_listen_addr *a)
{
    char text[INET_ADDRSTRLEN];
    struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
    if (hostlen == strlen("localhost") && memcmp(host, "localhost", hostlen) == 0)
        host = "127.0.0.1", hostlen = strlen(host);
    if (hostlen >= sizeof text) return -1;
    memcpy(text, host, hostlen);
    text[hostlen] = '\0';
    if (inet_pton(AF_INET, text, &in->sin_addr) != 1) return -1;
    in->sin_family = AF_INET;
    in->sin_port = port;
    a->len = (socklen_t)sizeof *in;
    return 0;
}

static int parse_tcp(const char *spec, struct sbxd_listen_addr *a, char *err, size_t errlen)
{
    const char *host = spec, *colon;
    size_t hostlen;
    int v6 = spec[0] == '[';
    if (v6) {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':') return refuse(err, errlen, "wants [IPv6]:PORT");
        host = spec + 1, hostlen = (size_t)(close - host), colon = close + 1;
    } else {
        colon = strchr(spec, ':');
        if (!colon) return refuse(err, errlen, "wants HOST:PORT or unix:PATH");
        if (strchr(colon + 1, ':')) return refuse(err, errlen, "an IPv6 address goes in brackets: [::1]:PORT");
        hostlen = (size_t)(colon - spec);
    }
    in_port_t port;
    if (parse_port(colon + 1, &port) != 0) return refuse(err, errlen, "the port must be a number from 0 to 65535");
    if (v6 ? parse_ipv6(host, hostlen, port, a) != 0 : parse_ipv4(host, hostlen, port, a) != 0)
        return refuse(err, errlen, v6 ? "not an IPv6 address (numeric, no zone)"
                                      : "the host must be an IPv4 address, [IPv6] or localhost");
    return 0;
}

int sbxd_listen_parse(const char *spec, struct sbxd_listen_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strncmp(spec, "unix:", 5) == 0) return parse_unix(spec + 5, a, err, errlen);
    return parse_tcp(spec, a, err, errlen);
}

int sbxd_listen_name(const struct sbxd_listener *l, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char text[INET6_ADDRSTRLEN];
    if (l->addr.sa.ss_family == AF_UNIX)
        return snprintf(buf, len, "unix:%s", ((const struct sockaddr_un *)&l->addr.sa)->sun_path), 0;
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sslen) != 0) return -1;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        snprintf(buf, len, "[%s]:%u", text, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        snprintf(buf, len, "%s:%u", text, ntohs(in->sin_port));
    }
    return 0;
}
