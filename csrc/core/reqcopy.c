#include "reqcopy.h"

#include <stdlib.h>
#include <string.h>

static char *copy_bytes(const char *s, size_t n, int *failed)
{
    if (!s) return NULL;
    char *d = malloc(n + 1);
    if (!d) {
        *failed = 1;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *copy_string(const char *s, int *failed)
{
    return s ? copy_bytes(s, strlen(s), failed) : NULL;
}

static char **copy_lines(const char *const *lines, size_t n, int *failed)
{
    char **d = calloc(n + 1, sizeof *d);
    if (!d) {
        *failed = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) d[i] = copy_string(lines[i], failed);
    return d;
}

struct sbx_reqcopy *sbx_reqcopy_new(const struct sbx_request *req)
{
    struct sbx_reqcopy *rc = calloc(1, sizeof *rc);
    if (!rc) return NULL;
    int failed = 0;
    struct sbx_request *r = &rc->req;
    r->method = copy_string(req->method, &failed);
    r->url = copy_string(req->url, &failed);
    r->unix_socket = copy_string(req->unix_socket, &failed);
    rc->lines = copy_lines(req->headers, req->nheaders, &failed);
    r->headers = (const char *const *)rc->lines;
    r->nheaders = req->nheaders;
    rc->body = copy_bytes(req->body, req->body_len, &failed);
    r->body = rc->body;
    r->body_len = req->body ? req->body_len : 0;
    if (!failed) return rc;
    sbx_reqcopy_free(rc);
    return NULL;
}

void sbx_reqcopy_free(struct sbx_reqcopy *rc)
{
    if (!rc) return;
    free((char *)rc->req.method);
    free((char *)rc->req.url);
    free((char *)rc->req.unix_socket);
    for (size_t i = 0; rc->lines && i < rc->req.nheaders; i++) free(rc->lines[i]);
    free(rc->lines);
    free(rc->body);
    free(rc);
}
