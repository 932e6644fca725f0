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
}

void sbx_wstx_drop_input(struct sbx_wstx *tx)
{
    free_list(&tx->input);
    tx->stdin_queued = 0;
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

struct sbx_wsmsg *sbx_wstx_next(const struct sbx_wstx *tx)
{
    struct sbx_list *first = sbx_list_first(&tx->control);
    if (!first) first = sbx_list_first(&tx->input);
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
    return !sbx_list_empty(&tx->control) || !sbx_list_empty(&tx->input);
}
