#include "wstx.h"
#include "wschan.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

void sbx_wstx_init(struct sbx_wstx *tx)
{
    memset(tx, 0, sizeof *tx);
    sbx_list_init(&tx->control);
    sbx_list_init(&tx->input);
    tx->keep = 1;
}

static void drop_kept(struct sbx_wstx *tx)
{
    free(tx->kept.bytes);
    memset(&tx->kept, 0, sizeof tx->kept);
}

/* Keeps len more bytes of stdin (the units from stdin_accepted on). */
static int keep(struct sbx_wstx *tx, const void *data, size_t len)
{
    struct sbx_wstx_kept *k = &tx->kept;
    if (!tx->keep || len == 0) return 0;
    if (k->len == 0) k->from = tx->stdin_accepted;
    if (k->len + len > k->cap) {
        size_t cap = k->cap ? k->cap : 4096;
        while (cap < k->len + len) cap *= 2;
        unsigned char *b = realloc(k->bytes, cap);
        if (!b) return -1;
        k->bytes = b, k->cap = cap;
    }
    memcpy(k->bytes + k->len, data, len);
    k->len += len;
    return 0;
}

/* The kept stdin below unit `units` goes; the buffer shrinks once mostly empty. */
static void forget_kept(struct sbx_wstx_kept *k, uint64_t units)
{
    if (units <= k->from) return;
    uint64_t n = units - k->from;
    if (n >= k->len) {
        k->from += k->len;
        k->len = 0;
    } else {
        memmove(k->bytes, k->bytes + n, k->len - (size_t)n);
        k->len -= (size_t)n;
        k->from = units;
    }
    if (k->cap > 65536 && k->len < k->cap / 4) {
        unsigned char *b = realloc(k->bytes, k->len > 4096 ? k->len : 4096);
        if (b) k->bytes = b, k->cap = k->len > 4096 ? k->len : 4096;
    }
}

/* A message of channel + payload, with LWS_PRE bytes of room before it. */
static struct sbx_wsmsg *new_msg(int kind, int channel, const void *payload, size_t len)
{
    struct sbx_wsmsg *m = malloc(sizeof *m + LWS_PRE + 1 + len);
    if (!m) return NULL;
    m->link.prev = m->link.next = NULL;
    m->kind = kind;
    m->len = 1 + len;
    m->bytes = m->storage + LWS_PRE;
    m->bytes[0] = (unsigned char)channel;
    if (len) memcpy(m->bytes + 1, payload, len);
    return m;
}

static void free_list(struct sbx_list *head)
{
    struct sbx_list *node, *next;
    sbx_list_each_safe(node, next, head) {
        sbx_list_remove(node);
        free(sbx_list_entry(node, struct sbx_wsmsg, link));
    }
}

void sbx_wstx_clear(struct sbx_wstx *tx)
{
    free_list(&tx->control);
    free_list(&tx->input);
    tx->control_queued = tx->stdin_queued = 0;
    drop_kept(tx);
}

void sbx_wstx_drop_input(struct sbx_wstx *tx)
{
    free_list(&tx->input);
    tx->stdin_queued = 0;
    drop_kept(tx);
    tx->keep = tx->held = 0;
}

long sbx_wstx_push_stdin(struct sbx_wstx *tx, const void *data, size_t len)
{
    const char *p = data;
    size_t taken = 0;
    while (taken < len && tx->stdin_queued < SBX_WSTX_STDIN_MAX) {
        size_t n = len - taken;
        if (n > SBX_WSTX_CHUNK) n = SBX_WSTX_CHUNK;
        if (n > SBX_WSTX_STDIN_MAX - tx->stdin_queued) n = SBX_WSTX_STDIN_MAX - tx->stdin_queued;
        struct sbx_wsmsg *m = new_msg(SBX_WSMSG_STDIN, SBX_WS_STDIN, p + taken, n);
        if (m && keep(tx, p + taken, n) != 0) {
            free(m);
            m = NULL;
        }
        if (!m) break;
        sbx_list_push_back(&tx->input, &m->link);
        tx->stdin_queued += n;
        tx->stdin_accepted += n;
        taken += n;
    }
    if (taken == 0 && len > 0 && tx->stdin_queued < SBX_WSTX_STDIN_MAX) return -1;
    return (long)taken;
}

int sbx_wstx_push_eof(struct sbx_wstx *tx)
{
    unsigned char which = SBX_WS_STDIN;
    struct sbx_wsmsg *m = new_msg(SBX_WSMSG_EOF, SBX_WS_CLOSE, &which, 1);
    if (!m) return -1;
    sbx_list_push_back(&tx->input, &m->link);
    tx->eof_queued = 1;
    return 0;
}

int sbx_wstx_push_control(struct sbx_wstx *tx, int channel, const void *payload, size_t len,
                          int urgent)
{
    if (!urgent && tx->control_queued >= SBX_WSTX_CONTROL_MAX) return 1;
    struct sbx_wsmsg *m = new_msg(SBX_WSMSG_CONTROL, channel, payload, len);
    if (!m) return -1;
    if (urgent) sbx_list_push_front(&tx->control, &m->link);
    else sbx_list_push_back(&tx->control, &m->link);
    tx->control_queued += len;
    return 0;
}

int sbx_wstx_resume_stdin(struct sbx_wstx *tx, int known, uint64_t units)
{
    tx->held = 0;
    if (!known) {
        tx->keep = 0;
        drop_kept(tx);
        return 0;
    }
    struct sbx_wstx_kept *k = &tx->kept;
    uint64_t eof_unit = tx->stdin_accepted; /* the EOF's unit, when it was queued */
    if (units > eof_unit + (uint64_t)tx->eof_queued) units = eof_unit + (uint64_t)tx->eof_queued;
    forget_kept(k, units);
    /* the queue is made again from what the server lacks: the kept bytes (all that is
     * not counted: the stdin not yet written is kept too), then the EOF */
    free_list(&tx->input);
    tx->stdin_queued = 0;
    tx->stdin_written = k->from;
    for (size_t at = 0; at < k->len;) {
        size_t n = k->len - at < SBX_WSTX_CHUNK ? k->len - at : SBX_WSTX_CHUNK;
        struct sbx_wsmsg *m = new_msg(SBX_WSMSG_STDIN, SBX_WS_STDIN, k->bytes + at, n);
        if (!m) return -1;
        sbx_list_push_back(&tx->input, &m->link);
        tx->stdin_queued += n;
        at += n;
    }
    return tx->eof_queued && units <= eof_unit ? sbx_wstx_push_eof(tx) : 0;
}

void sbx_wstx_stdin_counted(struct sbx_wstx *tx, uint64_t units)
{
    forget_kept(&tx->kept, units);
}

struct sbx_wsmsg *sbx_wstx_next(const struct sbx_wstx *tx)
{
    struct sbx_list *first = sbx_list_first(&tx->control);
    if (!first && !tx->held) first = sbx_list_first(&tx->input);
    return first ? sbx_list_entry(first, struct sbx_wsmsg, link) : NULL;
}

void sbx_wstx_written(struct sbx_wstx *tx, struct sbx_wsmsg *m)
{
    /* its bytes are masked now: its kind says what it was */
    size_t payload = m->len - 1;
    sbx_list_remove(&m->link);
    if (m->kind == SBX_WSMSG_STDIN) {
        tx->stdin_queued -= payload;
        tx->stdin_written += payload;
    } else if (m->kind == SBX_WSMSG_CONTROL) {
        tx->control_queued -= payload;
    }
    free(m);
}

int sbx_wstx_pending(const struct sbx_wstx *tx)
{
    return !sbx_list_empty(&tx->control) || (!tx->held && !sbx_list_empty(&tx->input));
}
