/* sbxd's --listen addresses: what each one binds, and every refusal with its reason. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>
#include "../../csrc/sbxd/listen.h"
#include "check.h"

static void parses_ipv4(const char *spec, const char *ip, unsigned port)
{
    struct sbxd_listen_addr a;
    char err[160] = "", text[INET_ADDRSTRLEN] = "";
    int rc = sbxd_listen_parse(spec, &a, err, sizeof err);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&a.sa;
    CHECK(rc == 0 && a.sa.ss_family == AF_INET && a.len == sizeof *in, "%s: %s", spec, err);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    CHECK(!strcmp(text, ip) && ntohs(in->sin_port) == port, "%s -> %s:%u", spec, text, ntohs(in->sin_port));
}

static void parses_ipv6(const char *spec, const char *ip, unsigned port)
{
    struct sbxd_listen_addr a;
    char err[160] = "", text[INET6_ADDRSTRLEN] = "";
    int rc = sbxd_listen_parse(spec, &a, err, sizeof err);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.sa;
    CHECK(rc == 0 && a.sa.ss_family == AF_INET6 && a.len == sizeof *in6, "%s: %s", spec, err);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    CHECK(!strcmp(text, ip) && ntohs(in6->sin6_port) == port && in6->sin6_flowinfo == 0,
          "%s -> [%s]:%u", spec, text, ntohs(in6->sin6_port));
}

static void refused(const char *spec, const char *reason)
{
    struct sbxd_listen_addr a;
    char err[160] = "";
    int rc = sbxd_listen_parse(spec, &a, err, sizeof err);
    CHECK(rc == -1 && strstr(err, reason), "%s -> %d '%s'", spec, rc, err);
}

static void test_tcp(void)
{
    parses_ipv4("127.0.0.1:7070", "127.0.0.1", 7070);
    parses_ipv4("127.0.0.1:0", "127.0.0.1", 0);
    parses_ipv4("0.0.0.0:65535", "0.0.0.0", 65535);
    parses_ipv4("localhost:80", "127.0.0.1", 80);
    parses_ipv6("[::1]:7070", "::1", 7070);
    parses_ipv6("[::]:0", "::", 0);
    parses_ipv6("[fd00::2]:1", "fd00::2", 1);
    refused("127.0.0.1", "HOST:PORT");
    refused("127.0.0.1:", "port");
    refused("127.0.0.1:65536", "port");
    refused("127.0.0.1:123456", "port");
    refused("127.0.0.1:+1", "port");
    refused("127.0.0.1:80x", "port");
    refused("example.com:80", "IPv4 address");
    refused("127.1:80", "IPv4 address");
    refused(":80", "IPv4 address");
    refused("*:80", "IPv4 address");
    refused("LOCALHOST:80", "IPv4 address");
    refused("::1:80", "brackets");
    refused("[::1]", "[IPv6]:PORT");
    refused("[::1]80", "[IPv6]:PORT");
    refused("[127.0.0.1]:80", "IPv6");
    refused("[fe80::1%eth0]:80", "IPv6");
}

static void test_unix(void)
{
    struct sbxd_listen_addr a;
    char err[160] = "", path[200];
    int rc = sbxd_listen_parse("unix:/tmp/x.sock", &a, err, sizeof err);
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a.sa;
    CHECK(rc == 0 && a.sa.ss_family == AF_UNIX && !strcmp(un->sun_path, "/tmp/x.sock"), "%s", err);
    refused("unix:", "path");
    size_t most = sizeof un->sun_path - 1;
    memset(path, 0, sizeof path);
    memcpy(path, "unix:", 5);
    memset(path + 5, 'p', most);
    CHECK(sbxd_listen_parse(path, &a, err, sizeof err) == 0, "%zu bytes: %s", most, err);
    path[5 + most] = 'p';
    refused(path, "at most 107 fit");
}

int main(void)
{
    test_tcp();
    test_unix();
    return check_report();
}
