/* A process's output log: records of stdout/stderr bytes in arrival order, under one
 * absolute byte counter shared by both streams (the SSE `id`). Today a record leaves
 * the log once the attached reader has taken it; replay from an offset will keep them. */
#ifndef SBXD_OUTLOG_H
#define SBXD_OUTLOG_H
#include <stddef.h>
#include <stdint.h>

enum sbxd_channel { SBXD_STDOUT = 1, SBXD_STDERR = 2 };

struct sbxd_record {
    struct sbxd_record *next;
    enum sbxd_channel channel;
    size_t len, taken;     /* bytes, and how many of them the reader already has */
    unsigned char data[];
};

struct sbxd_outlog {
    struct sbxd_record *head, *tail;
    size_t pending;        /* bytes not yet taken by the reader */
    uint64_t end;          /* absolute offset after the last appended byte */
    uint64_t taken;        /* absolute offset the reader has reached */
};

int sbxd_outlog_append(struct sbxd_outlog *log, enum sbxd_channel ch, const void *p, size_t n);
/* The next untaken bytes (at most max, of one channel); 0 when there are none. */
size_t sbxd_outlog_peek(const struct sbxd_outlog *log, size_t max, enum sbxd_channel *ch,
                        const unsigned char **bytes);
/* Marks n bytes of the head record as taken (n <= what peek returned). */
void sbxd_outlog_take(struct sbxd_outlog *log, size_t n);
void sbxd_outlog_free(struct sbxd_outlog *log);

#endif
