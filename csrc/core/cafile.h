/* The CA certificates a TLS connection to sbxd trusts (an https URL's requests and its
 * wss sessions alike): the file $SSL_CERT_FILE names, as OpenSSL and the curl tool read
 * it, else libcurl's built-in bundle (the system's). */
#ifndef SBX_CAFILE_H
#define SBX_CAFILE_H

#include <stddef.h>

/* $SSL_CERT_FILE when set and not empty, else NULL: what an https request sets as its
 * CAINFO (curl's own default applies without it). Read on every call. */
const char *sbx_ca_file_override(void);

/* The file a wss connection loads: the override, else libcurl's built-in bundle, copied
 * into buf[cap]; NULL when libcurl names none (or it does not fit). */
const char *sbx_ca_file(char *buf, size_t cap);

#endif
