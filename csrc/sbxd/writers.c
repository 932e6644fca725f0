#include "writers.h"

#include <stdlib.h>
#include <string.h>

int sbxd_writer_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > SBXD_WRITER_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

struct sbxd_writer *sbxd_writer_find(struct sbxd_writers *t, const char *id)
{
    for (int i = 0; t && i < SBXD_WRITERS_MAX; i++)
        if (t->w[i].id[0] && strcmp(t->w[i].id, id) == 0) return &t->w[i];
    return NULL;
}

/* A free slot, else the one used longest ago, emptied. */
static struct sbxd_writer *make_room(struct sbxd_writers *t)
{
    struct sbxd_writer *oldest = &t->w[0];
    for (int i = 0; i < SBXD_WRITERS_MAX; i++) {
        if (!t->w[i].id[0]) return &t->w[i];
        if (t->w[i].used < oldest->used) oldest = &t->w[i];
    }
    memset(oldest, 0, sizeof *oldest);
    return oldest;
}

struct sbxd_writer *sbxd_writer_own(struct sbxd_writers **t, const char *id, const void *owner)
{
    if (!*t && !(*t = calloc(1, sizeof **t))) return NULL;
    struct sbxd_writer *w = sbxd_writer_find(*t, id);
    if (!w) {
        w = make_room(*t);
        strncpy(w->id, id, SBXD_WRITER_ID_MAX);
    }
    w->owner = owner;
    w->used = ++(*t)->clock;
    return w;
}

struct sbxd_writer *sbxd_writer_owned(struct sbxd_writers *t, const char *id, const void *owner)
{
    struct sbxd_writer *w = sbxd_writer_find(t, id);
    return w && w->owner == owner ? w : NULL;
}

void sbxd_writer_drop(struct sbxd_writers *t, const char *id)
{
    struct sbxd_writer *w = sbxd_writer_find(t, id);
    if (w) memset(w, 0, sizeof *w);
}

void sbxd_writers_disown(struct sbxd_writers *t, const void *owner)
{
    for (int i = 0; t && i < SBXD_WRITERS_MAX; i++)
        if (t->w[i].owner == owner) t->w[i].owner = NULL;
}

void sbxd_writers_free(struct sbxd_writers *t)
{
    free(t);
}
