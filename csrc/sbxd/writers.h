/* How much stdin a process received from each session that writes to it, by the writer id
 * the session's connections carry (`?writer=` on the WebSocket routes). A session that
 * attaches again after a cut learns from its start status where its stdin stands, and
 * sends again what the cut lost: nothing is lost, nothing is taken twice. A writer's
 * newest connection owns it: stdin still arriving on an older one (a cut that sbxd has
 * not seen yet) is dropped, since the client sends it again on the new one.
 *
 * A stdin call over HTTP (`?writer=` on .../stdin) is a writer of its own, owned by
 * nobody: its key, noted when the call is taken, makes the same call sent again after a
 * cut take nothing more. */
#ifndef SBXD_WRITERS_H
#define SBXD_WRITERS_H
#include <stddef.h>
#include <stdint.h>

#define SBXD_WRITER_ID_MAX 32  /* characters of a writer id: [0-9A-Za-z_-] */
#define SBXD_WRITERS_MAX 8     /* writers a process keeps; the one used longest ago makes room */

struct sbxd_writer {
    char id[SBXD_WRITER_ID_MAX + 1];   /* "" : a free slot */
    uint64_t received;                 /* stdin payload bytes taken, plus 1 for its EOF */
    uint64_t used;                     /* the table's clock when it was last owned */
    const void *owner;                 /* the connection that owns it, or NULL */
};

struct sbxd_writers {
    struct sbxd_writer w[SBXD_WRITERS_MAX];
    uint64_t clock;
};

/* Whether s[0..len) is a writer id. */
int sbxd_writer_id_ok(const char *s, size_t len);
/* Writer `id` of the table *t (made on first use), now owned by `owner`; NULL when out of
 * memory. */
struct sbxd_writer *sbxd_writer_own(struct sbxd_writers **t, const char *id, const void *owner);
/* Writer `id` if `owner` still owns it (its stdin counts), else NULL. Changes nothing. */
struct sbxd_writer *sbxd_writer_owned(struct sbxd_writers *t, const char *id, const void *owner);
/* Writer `id`, whoever owns it, or NULL. */
struct sbxd_writer *sbxd_writer_find(struct sbxd_writers *t, const char *id);
/* Forgets writer `id` (a stdin call refused after its key was noted). */
void sbxd_writer_drop(struct sbxd_writers *t, const char *id);
/* The connection `owner` goes: what it owned is owned by nobody. */
void sbxd_writers_disown(struct sbxd_writers *t, const void *owner);
void sbxd_writers_free(struct sbxd_writers *t);

#endif
