#include "headers.h"

#include <stdlib.h>
#include <string.h>

void sbx_header_lists_init(struct sbx_header_lists *H)
{
    sbx_list_init(&H->lists);
}

static int same_lines(const struct curl_slist *s, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++, s = s->next)
        if (!s || strcmp(s->data, lines[i]) != 0) return 0;
    return s == NULL;
}

static struct sbx_headers *find(struct sbx_header_lists *H, const char *const *lines, size_t n)
{
    struct sbx_list *link;
    sbx_list_each(link, &H->lists) {
        struct sbx_headers *h = sbx_list_entry(link, struct sbx_headers, link);
        if (same_lines(h->slist, lines, n)) return h;
    }
    return NULL;
}

static struct sbx_headers *make(struct sbx_header_lists *H, const char *const *lines, size_t n)
{
    struct sbx_headers *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *s = curl_slist_append(h->slist, lines[i]);
        if (!s) {
            curl_slist_free_all(h->slist);
            free(h);
            return NULL;
        }
        h->slist = s;
    }
    sbx_list_push_back(&H->lists, &h->link);
    return h;
}

struct sbx_headers *sbx_headers_get(struct sbx_header_lists *H, const char *const *lines, size_t n)
{
    struct sbx_headers *h = find(H, lines, n);
    if (!h) h = make(H, lines, n);
    if (h) h->users++;
    return h;
}

void sbx_headers_put(struct sbx_headers *h)
{
    if (--h->users) return;
    sbx_list_remove(&h->link);
    curl_slist_free_all(h->slist);
    free(h);
}
