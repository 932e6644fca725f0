/* A wss URL's host where lws 4.1 takes it for a name. lws cuts the URL's host at its first
 * ':' (to drop the port), which of "[::1]:8443" leaves "[", and uses that for two things:
 * - the certificate's check: no certificate can match "[", so every wss session to an
 *   IPv6 address over TLS failed as if the certificate named another host. OpenSSL
 *   reports that mismatch to the verify callback, which asks the check here instead;
 * - the server name the handshake sends (SNI), which is dropped here for any address. */
#ifndef SBX_TLSHOST_H
#define SBX_TLSHOST_H

/* Whether the error OpenSSL reports now for the chain in `x509_ctx` (an X509_STORE_CTX)
 * is lws' host mismatch, `host` is an IPv6 address in brackets (with a port or not), and
 * the certificate names that address (a subjectAltName IP entry); the error is then
 * cleared, so that the chain is accepted. 0 otherwise, the error left as it is. */
int sbx_tls_ipv6_host_named(void *x509_ctx, const char *host);

/* Has every ClientHello of the client context `ssl_ctx` (an SSL_CTX) go without a server
 * name (SNI) where the name it would carry is no host name: lws 4.1 gives it the URL's
 * host up to its first ':', "[" for an IPv6 address, and an address is never a server
 * name (RFC 6066, 3); curl sends none for one either. */
void sbx_tls_names_hosts_only(void *ssl_ctx);

#endif
