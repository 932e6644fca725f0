#include <stdlib.h>
#include <string.h>
#include "outlog.h"

int sbxd_outlog_append(struct sbxd_outlog *log, enum sbxd_channel ch, const void *p, size_t n)
{
    struct sbxd_record *r = malloc(sizeof *r + n);
    if (!r) return -1;
    r->next = NULL;
    r->channel = ch;
    r->len = n;
    r->taken = 0;
    memcpy(r->data, p, n);
    if (log->tail) log->tail->next = r;
    else log->head = r;
    log->tail = r;
    log->pending += n;
    log->end += n;
    return 0;
}

size_t sbxd_outlog_peek(const struct sbxd_outlog *log, size_t max, enum sbxd_channel *ch,
                        const unsigned char **bytes)
{
    const struct sbxd_record *r = log->head;
    if (!r) return 0;
    size_t n = r->len - r->taken;
    *ch = r->channel;
    *bytes = r->data + r->taken;
    return n < max ? n : max;
}

void sbxd_outlog_take(struct sbxd_outlog *log, size_t n)
{
    struct sbxd_record *r = log->head;
    if (!r) return;
    r->taken += n;
    log->pending -= n;
    log->taken += n;
    if (r->taken < r->len) return;
    log->head = r->next;
    if (!log->head) log->tail = NULL;
    free(r);
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
