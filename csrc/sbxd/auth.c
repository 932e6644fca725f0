#include <string.h>
#include "http.h"

/* Compares every byte whatever the first difference, so timing says nothing of the key. */
static int equal_const_time(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < blen; i++) diff |= (unsigned char)(a[i % (alen ? alen : 1)] ^ b[i]);
    return diff == 0 && alen == blen;
}

/* The key is at most SBXD_KEY_MAX bytes (main.c refuses a longer one), so a header that
 * does not fit the buffer cannot carry it. */
int sbxd_authorized(struct lws *wsi, const char *key)
{
    if (!key) return 1;
    char header[sizeof "Bearer " + SBXD_KEY_MAX];
    int n = lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n < 7 || strncmp(header, "Bearer ", 7) != 0) return 0;
    return equal_const_time(header + 7, (size_t)n - 7, key, strlen(key));
}
