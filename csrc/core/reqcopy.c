#include "reqcopy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The copy is one allocation: the struct, the header lines' array, then every string,
 * each with its NUL. A foreground command in flight holds its kill request all along,
 * so its cost is one block, not one per string. */

static size_t string_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static size_t copy_size(const struct sbx_request *req, const char *url_tail)
{
    size_t n = sizeof(struct sbx_reqcopy) + (req->nheaders + 1) * sizeof(char *);
    n += string_size(req->method) + string_size(req->url) + string_size(req->unix_socket);
    n += string_size(url_tail);
    for (size_t i = 0; i < req->nheaders; i++) n += string_size(req->headers[i]);
    return n + (req->body ? req->body_len + 1 : 0);
}

/* Copies n bytes of s (and a NUL) at *at, which moves past them; NULL stays NULL. */
static char *put_bytes(char **at, const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = *at;
    memcpy(d, s, n);
    d[n] = '\0';
    *at += n + 1;
    return d;
}

static char *put_string(char **at, const char *s)
{
    return s ? put_bytes(at, s, strlen(s)) : NULL;
}

struct sbx_reqcopy *sbx_reqcopy_new(const struct sbx_request *req, const char *url_tail)
{
    struct sbx_reqcopy *rc = calloc(1, copy_size(req, url_tail));
    if (!rc) return NULL;
    rc->refs = 1;
    rc->lines = (char **)(rc + 1);
    char *at = (char *)(rc->lines + req->nheaders + 1);
    struct sbx_request *r = &rc->req;
    r->method = put_string(&at, req->method);
    r->url = put_string(&at, req->url);
    r->unix_socket = put_string(&at, req->unix_socket);
    for (size_t i = 0; i < req->nheaders; i++) rc->lines[i] = put_string(&at, req->headers[i]);
    r->headers = (const char *const *)rc->lines;
    r->nheaders = req->nheaders;
    rc->body = put_bytes(&at, req->body, req->body_len);
    r->body = rc->body;
    r->body_len = req->body ? req->body_len : 0;
    rc->url_tail = put_string(&at, url_tail);
    return rc;
}

struct sbx_reqcopy *sbx_reqcopy_for(const struct sbx_reqcopy *t, int64_t pid)
{
    const char *tail = t->url_tail ? t->url_tail : "";
    int n = snprintf(NULL, 0, "%s%" PRId64 "%s", t->req.url, pid, tail);
    if (n < 0) return NULL;
    char *url = malloc((size_t)n + 1);
    if (!url) return NULL;
    snprintf(url, (size_t)n + 1, "%s%" PRId64 "%s", t->req.url, pid, tail);
    struct sbx_request req = t->req;
    req.url = url;
    struct sbx_reqcopy *rc = sbx_reqcopy_new(&req, NULL);
    free(url);
    return rc;
}

struct sbx_reqcopy *sbx_reqcopy_hold(struct sbx_reqcopy *rc)
{
    rc->refs++;
    return rc;
}

void sbx_reqcopy_free(struct sbx_reqcopy *rc)
{
    if (rc && --rc->refs == 0) free(rc);
}
