/* The writers of a process's stdin (writers.h): a session's, owned by its newest
 * connection, and a stdin call's key, owned by nobody; the one used longest ago makes room
 * once SBXD_WRITERS_MAX are kept; a key dropped is unknown again. */
#include <stdio.h>
#include <string.h>
#include "../../csrc/sbxd/writers.h"
#include "check.h"

static void test_owners(void)
{
    struct sbxd_writers *t = NULL;
    int a = 0, b = 0; /* their addresses name two connections */
    struct sbxd_writer *w = sbxd_writer_own(&t, "w1", &a);
    CHECK(w && t, "made on first use");
    w->received = 5;
    CHECK(sbxd_writer_owned(t, "w1", &a) == w && !sbxd_writer_owned(t, "w1", &b), "owned by a alone");
    CHECK(sbxd_writer_own(&t, "w1", &b) == w && w->received == 5, "b takes it over, its count kept");
    CHECK(!sbxd_writer_owned(t, "w1", &a), "a no longer owns it");
    sbxd_writers_disown(t, &b);
    CHECK(!sbxd_writer_owned(t, "w1", &b) && sbxd_writer_find(t, "w1") == w, "disowned, still known");
    sbxd_writers_free(t);
}

static void test_keys(void)
{
    struct sbxd_writers *t = NULL;
    CHECK(!sbxd_writer_find(t, "k"), "no table: unknown");
    CHECK(sbxd_writer_own(&t, "k", NULL) && sbxd_writer_find(t, "k"), "a key noted is found");
    sbxd_writer_drop(t, "k");
    CHECK(!sbxd_writer_find(t, "k"), "a key dropped is unknown");
    sbxd_writer_drop(t, "never");
    char id[16];
    for (int i = 0; i < SBXD_WRITERS_MAX; i++) {
        snprintf(id, sizeof id, "k%d", i);
        sbxd_writer_own(&t, id, NULL);
    }
    sbxd_writer_own(&t, "k0", NULL); /* used again: k1 is now the one used longest ago */
    sbxd_writer_own(&t, "new", NULL);
    CHECK(sbxd_writer_find(t, "new") && sbxd_writer_find(t, "k0"), "the newest and one used again stay");
    CHECK(!sbxd_writer_find(t, "k1"), "the one used longest ago made room");
    sbxd_writers_free(t);
}

static void test_ids(void)
{
    CHECK(sbxd_writer_id_ok("aZ09_-", 6), "the alphabet");
    CHECK(!sbxd_writer_id_ok("", 0) && !sbxd_writer_id_ok("a!", 2) && !sbxd_writer_id_ok("a b", 3), "others");
    char longest[SBXD_WRITER_ID_MAX + 2];
    memset(longest, 'a', sizeof longest);
    CHECK(sbxd_writer_id_ok(longest, SBXD_WRITER_ID_MAX) && !sbxd_writer_id_ok(longest, SBXD_WRITER_ID_MAX + 1),
          "at most %d characters", SBXD_WRITER_ID_MAX);
}

int main(void)
{
    test_owners();
    test_keys();
    test_ids();
    return check_report();
}
