/* Request header lists, shared by the requests of a client that send the same lines. A
 * curl list costs two allocations a line, and the requests of one client send one of a
 * few lists (its Accept, its key, a Content-Type): a thousand commands in flight would
 * hold a thousand copies of one. A list lives while a request uses it. */
#ifndef SBX_HEADERS_H
#define SBX_HEADERS_H
#include <stddef.h>
#include <curl/curl.h>
#include "list.h"

struct sbx_headers {
    struct sbx_list link;        /* in its client's lists */
    struct curl_slist *slist;    /* what CURLOPT_HTTPHEADER takes; NULL: no lines */
    size_t users;
};

struct sbx_header_lists {
    struct sbx_list lists;
};

void sbx_header_lists_init(struct sbx_header_lists *H);
/* The list of these n lines, in this order: one that requests use already, else a new
 * one. NULL when out of memory. Every list got is given back with sbx_headers_put. */
struct sbx_headers *sbx_headers_get(struct sbx_header_lists *H, const char *const *lines, size_t n);
/* A request is done with h (its transfer is out of curl): the last one frees it. */
void sbx_headers_put(struct sbx_headers *h);

#endif
