/* The server's certificate against a wss URL's host when that host is an IPv6 address.
 * lws 4.1 checks a certificate against the URL's host up to its first ':' (to drop the
 * port), which of "[::1]:8443" leaves "[": no certificate can match it, so every wss
 * session to an IPv6 address over TLS failed as if the certificate named another host.
 * OpenSSL reports that mismatch to the verify callback, which asks this check instead. */
#ifndef SBX_TLSHOST_H
#define SBX_TLSHOST_H

/* Whether the error OpenSSL reports now for the chain in `x509_ctx` (an X509_STORE_CTX)
 * is lws' host mismatch, `host` is an IPv6 address in brackets (with a port or not), and
 * the certificate names that address (a subjectAltName IP entry); the error is then
 * cleared, so that the chain is accepted. 0 otherwise, the error left as it is. */
int sbx_tls_ipv6_host_named(void *x509_ctx, const char *host);

#endif
