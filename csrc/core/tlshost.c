#include "tlshost.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

/* The address inside host's brackets, into buf[cap]; NULL when host is not "[...]..." or
 * it does not fit. */
static const char *bracketed(const char *host, char *buf, size_t cap)
{
    if (!host || host[0] != '[') return NULL;
    const char *end = strchr(host, ']');
    size_t n = end ? (size_t)(end - host - 1) : 0;
    if (!n || n >= cap) return NULL;
    memcpy(buf, host + 1, n);
    buf[n] = '\0';
    return buf;
}

int sbx_tls_ipv6_host_named(void *x509_ctx, const char *host)
{
    X509_STORE_CTX *ctx = x509_ctx;
    char ip[64];
    /* OpenSSL reports the host check on the server's own certificate (depth 0), after
     * the chain was built; every other error is OpenSSL's to judge, each on its own */
    if (!ctx || X509_STORE_CTX_get_error(ctx) != X509_V_ERR_HOSTNAME_MISMATCH ||
        X509_STORE_CTX_get_error_depth(ctx) != 0 || !bracketed(host, ip, sizeof ip))
        return 0;
    X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
    if (!cert || X509_check_ip_asc(cert, ip, 0) != 1) return 0;
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
}

/* Whether `name` may be a server name: not an IPv4 address, nor any part of an IPv6 one
 * (which has a ':' or, as lws cuts it, is the "[" before the first one). */
static int is_host_name(const char *name)
{
    struct in_addr a;
    return name[0] && name[0] != '[' && !strchr(name, ':') && inet_pton(AF_INET, name, &a) != 1;
}

/* At the start of a handshake, before the ClientHello is made: the name lws set, or
 * none. The callback is handed the connection as const; the name is its own to set. */
static void on_tls_state(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_START)) return;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name && !is_host_name(name)) SSL_set_tlsext_host_name((SSL *)ssl, NULL);
}

void sbx_tls_names_hosts_only(void *ssl_ctx)
{
    if (ssl_ctx) SSL_CTX_set_info_callback(ssl_ctx, on_tls_state);
}
