#include <stdlib.h>
#include <string.h>
#include "outlog.h"

int sbxd_outlog_append(struct sbxd_outlog *log, enum sbxd_channel ch, const void *p, size_t n,
                       uint64_t stamp)
{
    if (n == 0) return 0;
    struct sbxd_record *r = malloc(sizeof *r + n);
    if (!r) return -1;
    r->next = NULL;
    r->offset = log->end;
    r->stamp = stamp;
    r->channel = ch;
    r->len = n;
    memcpy(r->data, p, n);
    if (log->tail) log->tail->next = r;
    else log->head = r;
    log->tail = r;
    log->end += n;
    return 0;
}

struct sbxd_record *sbxd_outlog_reserve(size_t cap)
{
    return malloc(sizeof(struct sbxd_record) + cap);
}

void sbxd_outlog_commit(struct sbxd_outlog *log, struct sbxd_record *r, size_t cap, enum sbxd_channel ch,
                        size_t n, uint64_t stamp)
{
    if (n < cap / 2) {
        struct sbxd_record *smaller = realloc(r, sizeof *r + n);
        if (smaller) r = smaller;
    }
    r->next = NULL;
    r->offset = log->end;
    r->stamp = stamp;
    r->channel = ch;
    r->len = n;
    if (log->tail) log->tail->next = r;
    else log->head = r;
    log->tail = r;
    log->end += n;
}

static uint64_t record_end(const struct sbxd_record *r)
{
    return r->offset + r->len;
}

/* Frees the records wholly dropped that no cursor can name (they end before floor). */
static void free_dropped(struct sbxd_outlog *log, uint64_t floor)
{
    struct sbxd_record *r;
    while ((r = log->head) && record_end(r) <= log->start && record_end(r) < floor) {
        log->head = r->next;
        if (!log->head) log->tail = NULL;
        free(r);
    }
}

uint64_t sbxd_outlog_trim(struct sbxd_outlog *log, uint64_t keep, uint64_t floor)
{
    uint64_t held = sbxd_outlog_held(log), limit = floor < log->end ? floor : log->end;
    if (held <= keep || limit <= log->start) {
        free_dropped(log, floor);
        return 0;
    }
    uint64_t to = log->end - keep < limit ? log->end - keep : limit, dropped = to - log->start;
    log->start = to;
    free_dropped(log, floor);
    return dropped;
}

/* The record holding the first byte held, or NULL when none is. */
static const struct sbxd_record *first_held(const struct sbxd_outlog *log)
{
    const struct sbxd_record *r = log->head;
    while (r && record_end(r) <= log->start) r = r->next;
    return r;
}

uint64_t sbxd_outlog_oldest(const struct sbxd_outlog *log)
{
    const struct sbxd_record *r = first_held(log);
    return r ? r->stamp : UINT64_MAX;
}

size_t sbxd_outlog_first_run(const struct sbxd_outlog *log)
{
    const struct sbxd_record *r = first_held(log);
    return r ? (size_t)(record_end(r) - log->start) : 0;
}

void sbxd_outlog_seek(const struct sbxd_outlog *log, struct sbxd_cursor *c, uint64_t offset)
{
    c->pos = offset < log->start ? log->start : offset > log->end ? log->end : offset;
    c->rec = NULL;
}

/* The record holding pos, or the last one when pos is the end. */
static const struct sbxd_record *find(const struct sbxd_outlog *log, uint64_t pos)
{
    const struct sbxd_record *r = log->head;
    while (r && record_end(r) <= pos && r->next) r = r->next;
    return r;
}

size_t sbxd_outlog_read(const struct sbxd_outlog *log, struct sbxd_cursor *c, size_t max,
                        enum sbxd_channel *ch, const unsigned char **bytes)
{
    if (c->pos < log->start) sbxd_outlog_seek(log, c, log->start); /* no cursor in use falls behind */
    if (c->pos >= log->end) return 0;
    const struct sbxd_record *r = c->rec;
    if (!r || c->pos < r->offset) r = find(log, c->pos);
    while (r && c->pos >= record_end(r)) r = r->next;
    if (!r) return 0;
    c->rec = r;
    size_t at = (size_t)(c->pos - r->offset), n = r->len - at;
    *ch = r->channel;
    *bytes = r->data + at;
    return n < max ? n : max;
}

void sbxd_outlog_advance(struct sbxd_cursor *c, size_t n)
{
    c->pos += n;
}

void sbxd_outlog_free(struct sbxd_outlog *log)
{
    while (log->head) {
        struct sbxd_record *r = log->head;
        log->head = r->next;
        free(r);
    }
    memset(log, 0, sizeof *log);
}
