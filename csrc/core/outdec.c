#include "outdec.h"
#include "base64.h"
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

static const char BAD_BASE64[] = "invalid base64 in an output event";
static const char NO_MEMORY[] = "out of memory";

int sbx_outdec_channel(const char *type)
{
    if (strcmp(type, SBX_EV_STDOUT) == 0) return 0;
    if (strcmp(type, SBX_EV_STDERR) == 0) return 1;
    return -1;
}

void sbx_outdec_init(struct sbx_outdec *D, int collect, int chunks)
{
    memset(D, 0, sizeof *D);
    D->collect = collect;
    D->chunks = chunks;
    D->output[0].mappable = D->output[1].mappable = 1;
}

void sbx_outdec_source(struct sbx_outdec *D, struct sbx_bufsource *source)
{
    D->output[0].source = D->output[1].source = source;
}

void sbx_outdec_free(struct sbx_outdec *D)
{
    sbx_buf_free(&D->output[0]);
    sbx_buf_free(&D->output[1]);
    sbx_buf_free(&D->own);
}

static int failed(struct sbx_outdec *D, const char *why)
{
    D->error = why;
    return -1;
}

void sbx_outdec_begin_channel(struct sbx_outdec *D, int channel)
{
    D->into = D->collect ? &D->output[channel] : &D->own;
    D->at = D->into->len;
    D->ncarry = 0;
    D->ended = 0;
    D->decoding = 1;
}

int sbx_outdec_begin(struct sbx_outdec *D, const char *type)
{
    int channel = sbx_outdec_channel(type);
    if (channel < 0) return 0;
    sbx_outdec_begin_channel(D, channel);
    return 1;
}

/* Whole groups of 4 characters, decoded onto the end of D->into; padding may only end
 * the event's base64. */
static int decode_groups(struct sbx_outdec *D, const char *s, size_t n)
{
    struct sbx_buf *b = D->into;
    if (D->ended) return failed(D, BAD_BASE64);
    if (sbx_buf_reserve(b, b64_decoded_max(n)) != 0) return failed(D, NO_MEMORY);
    size_t got = b64_decode(s, n, (unsigned char *)b->data + b->len);
    if (got == (size_t)-1) return failed(D, BAD_BASE64);
    b->len += got;
    b->data[b->len] = '\0';
    D->ended = s[n - 1] == '=';
    return 0;
}

int sbx_outdec_data(struct sbx_outdec *D, const char *s, size_t n)
{
    while (n > 0) {
        if (D->ncarry || n < 4) { /* a group split between pieces */
            size_t k = 4 - D->ncarry < n ? 4 - D->ncarry : n;
            memcpy(D->carry + D->ncarry, s, k);
            D->ncarry += k, s += k, n -= k;
            if (D->ncarry < 4) return 0;
            D->ncarry = 0;
            if (decode_groups(D, D->carry, 4)) return -1;
            continue;
        }
        size_t whole = n - n % 4;
        if (decode_groups(D, s, whole)) return -1;
        s += whole, n -= whole;
    }
    return 0;
}

int sbx_outdec_raw(struct sbx_outdec *D, const char *s, size_t n)
{
    return sbx_buf_append(D->into, s, n) ? failed(D, NO_MEMORY) : 0;
}

int sbx_outdec_end(struct sbx_outdec *D)
{
    D->decoding = 0;
    return D->ncarry ? failed(D, BAD_BASE64) : 0;
}

int sbx_outdec_take(struct sbx_outdec *D, struct sbx_event *ev)
{
    struct sbx_buf *b = D->into;
    if (b == &D->own) {
        ev->data = sbx_buf_take(b, &ev->len);
    } else {
        ev->ref = b;
        ev->ref_off = D->at;
        ev->len = b->len - D->at;
    }
    return ev->ref || ev->data ? 0 : failed(D, NO_MEMORY);
}

void sbx_outdec_drop(struct sbx_outdec *D)
{
    sbx_buf_reset(&D->own);
}

/* Gives ev a copy of the bytes it refers to. */
static int copy_out(struct sbx_event *ev)
{
    if (!(ev->data = malloc(ev->len + 1))) return -1;
    memcpy(ev->data, sbx_event_bytes(ev), ev->len);
    ev->data[ev->len] = '\0';
    ev->ref = NULL;
    return 0;
}

size_t sbx_outdec_complete(const struct sbx_outdec *D, int channel)
{
    const struct sbx_buf *b = &D->output[channel];
    return D->decoding && D->into == b ? D->at : b->len;
}

int sbx_outdec_detach(struct sbx_outdec *D, int channel, struct sbx_evqueue *q,
                      struct sbx_buf *gone)
{
    struct sbx_buf *b = &D->output[channel];
    struct sbx_bufsource *source = b->source;
    struct sbx_buf rest = {.mappable = 1, .source = source};
    size_t complete = sbx_outdec_complete(D, channel);
    if (complete < b->len && sbx_buf_append(&rest, b->data + complete, b->len - complete) != 0)
        return failed(D, NO_MEMORY);
    struct sbx_list *link;
    sbx_list_each(link, &q->events) {
        struct sbx_event *ev = sbx_list_entry(link, struct sbx_event, link);
        if (ev->ref == b && copy_out(ev) != 0) return sbx_buf_free(&rest), failed(D, NO_MEMORY);
    }
    sbx_buf_move(b, gone);
    if (gone->data) gone->data[gone->len = complete] = '\0';
    sbx_buf_move(&rest, b);
    b->mappable = 1;
    b->source = source;
    if (D->decoding && D->into == b) D->at = 0; /* the event under way starts the buffer */
    return 0;
}
