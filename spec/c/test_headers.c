/* Header lists shared by the requests that send the same lines, freed by the last one. */
#include "check.h"
#include "headers.h"

static size_t lists(const struct sbx_header_lists *H)
{
    size_t n = 0;
    const struct sbx_list *link;
    sbx_list_each(link, &H->lists) n++;
    return n;
}

int main(void)
{
    struct sbx_header_lists H;
    sbx_header_lists_init(&H);
    const char *const json[] = {"Accept: application/json", "Authorization: Bearer k"};
    const char *const sse[] = {"Accept: text/event-stream", "Authorization: Bearer k"};
    const char *const swapped[] = {"Authorization: Bearer k", "Accept: application/json"};

    struct sbx_headers *a = sbx_headers_get(&H, json, 2), *b = sbx_headers_get(&H, json, 2);
    CHECK(a && a == b && a->users == 2, "the same lines: one list, two users");
    CHECK(a->slist && a->slist->next && !a->slist->next->next, "a list of two lines");
    struct sbx_headers *c = sbx_headers_get(&H, sse, 2);
    struct sbx_headers *d = sbx_headers_get(&H, swapped, 2);
    struct sbx_headers *e = sbx_headers_get(&H, json, 1);
    struct sbx_headers *none = sbx_headers_get(&H, json, 0);
    CHECK(c && c != a, "other lines: another list");
    CHECK(d && d != a, "the same lines in another order: another list");
    CHECK(e && e != a && none && none != e, "fewer lines: another list");
    CHECK(!none->slist, "no lines: an empty list");
    CHECK(lists(&H) == 5, "five lists");

    sbx_headers_put(b);
    CHECK(lists(&H) == 5 && a->users == 1, "a list lives while a request uses it");
    sbx_headers_put(a);
    CHECK(lists(&H) == 4, "the last user frees it");
    CHECK(sbx_headers_get(&H, sse, 2) == c && c->users == 2, "a list in use is found again");
    sbx_headers_put(c);
    sbx_headers_put(c);
    sbx_headers_put(d);
    sbx_headers_put(e);
    sbx_headers_put(none);
    CHECK(lists(&H) == 0, "every list freed");
    return check_report();
}
