/* A process's output log: records of stdout/stderr bytes in arrival order, under one
 * absolute byte counter shared by both streams (the SSE `id`). Records stay after they
 * are sent, so a reader may start from any offset the log still holds; each reader
 * reads through a cursor of its own. The oldest bytes are dropped (trimmed) to keep the
 * log within its bound, never one a reader still needs (the floor). */
#ifndef SBXD_OUTLOG_H
#define SBXD_OUTLOG_H
#include <stddef.h>
#include <stdint.h>

enum sbxd_channel { SBXD_STDOUT = 1, SBXD_STDERR = 2 };

struct sbxd_record {
    struct sbxd_record *next;
    uint64_t offset;       /* the absolute offset of data[0] */
    uint64_t stamp;        /* the appender's clock when it came: orders the oldest bytes */
    enum sbxd_channel channel;
    size_t len;
    unsigned char data[];
};

struct sbxd_outlog {
    struct sbxd_record *head, *tail;
    uint64_t start;        /* the offset of the first byte held: those before are dropped */
    uint64_t end;          /* the offset after the last byte appended */
};

/* A reader's place in a log. `rec` is the record holding `pos`, or the one ending at it,
 * or NULL (found again at the next read). A record stays while a cursor may name it:
 * trimming frees only records that end before the floor, and the floor is at most the
 * position of every cursor in use. */
struct sbxd_cursor {
    uint64_t pos;
    const struct sbxd_record *rec;
};

/* The bytes held, end - start. */
static inline uint64_t sbxd_outlog_held(const struct sbxd_outlog *log)
{
    return log->end - log->start;
}

int sbxd_outlog_append(struct sbxd_outlog *log, enum sbxd_channel ch, const void *p, size_t n,
                       uint64_t stamp);
/* A record with room for `cap` bytes, to read into before it joins a log (no copy). */
struct sbxd_record *sbxd_outlog_reserve(size_t cap);
/* Appends a reserved record holding n (> 0) bytes; it belongs to the log from now on,
 * shrunk to its bytes when they are much fewer than its room. */
void sbxd_outlog_commit(struct sbxd_outlog *log, struct sbxd_record *r, size_t cap, enum sbxd_channel ch,
                        size_t n, uint64_t stamp);
/* Drops the oldest bytes until at most `keep` are held, never one at or after `floor`.
 * Returns how many were dropped. */
uint64_t sbxd_outlog_trim(struct sbxd_outlog *log, uint64_t keep, uint64_t floor);
/* The stamp of the oldest byte held; UINT64_MAX when none is. */
uint64_t sbxd_outlog_oldest(const struct sbxd_outlog *log);
/* How many of the oldest held bytes came in one record (what one eviction step drops). */
size_t sbxd_outlog_first_run(const struct sbxd_outlog *log);
/* Puts the cursor at `offset` (<= end), or at the first byte held when that one is gone. */
void sbxd_outlog_seek(const struct sbxd_outlog *log, struct sbxd_cursor *c, uint64_t offset);
/* The next bytes at the cursor (at most max, of one channel, contiguous); 0 when it is at
 * the end. */
size_t sbxd_outlog_read(const struct sbxd_outlog *log, struct sbxd_cursor *c, size_t max,
                        enum sbxd_channel *ch, const unsigned char **bytes);
/* Moves the cursor past n bytes that read returned. */
void sbxd_outlog_advance(struct sbxd_cursor *c, size_t n);
void sbxd_outlog_free(struct sbxd_outlog *log);

#endif
