/* The output log on its own: absolute offsets over both channels, reads from any offset
 * through cursors of their own, trimming from the front to a bound but never past a
 * cursor's floor, and the records a cursor names staying while it is in use. */
#include <stdlib.h>
#include <string.h>
#include "../../csrc/sbxd/outlog.h"
#include "check.h"

/* The byte at absolute offset i: a pattern, so any slice can be checked. */
static unsigned char at(uint64_t i)
{
    return (unsigned char)(i * 131 % 251);
}

/* Appends records of the given lengths, alternating channels, stamped 1, 2, ... */
static void fill(struct sbxd_outlog *log, const size_t *lens, size_t n)
{
    static unsigned char buf[70000];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < lens[i]; j++) buf[j] = at(log->end + j);
        CHECK(sbxd_outlog_append(log, i % 2 ? SBXD_STDERR : SBXD_STDOUT, buf, lens[i], i + 1) == 0, "append");
    }
}

/* Reads everything from the cursor on, checking the pattern and that a read never
 * mixes channels; returns the bytes read. */
static uint64_t read_rest(const struct sbxd_outlog *log, struct sbxd_cursor *c, size_t max)
{
    uint64_t total = 0;
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n;
    int ok = 1;
    while ((n = sbxd_outlog_read(log, c, max, &ch, &bytes)) > 0) {
        for (size_t i = 0; i < n; i++) ok &= bytes[i] == at(c->pos + i);
        sbxd_outlog_advance(c, n);
        total += n;
    }
    CHECK(ok, "the bytes read are the bytes at their offsets");
    CHECK(c->pos == log->end, "the cursor ends at the end: %llu", (unsigned long long)c->pos);
    return total;
}

static void test_read_from_any_offset(void)
{
    struct sbxd_outlog log = {0};
    const size_t lens[] = {10, 1, 65536, 7, 300};
    fill(&log, lens, 5);
    CHECK(log.end == 65854 && sbxd_outlog_held(&log) == 65854, "end %llu", (unsigned long long)log.end);
    const uint64_t offsets[] = {0, 5, 10, 11, 12, 65547, 65553, 65554, 65853, 65854};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        struct sbxd_cursor c;
        sbxd_outlog_seek(&log, &c, offsets[i]);
        CHECK(read_rest(&log, &c, i % 2 ? 3 : 65536) == 65854 - offsets[i], "from %llu",
              (unsigned long long)offsets[i]);
    }
    sbxd_outlog_free(&log);
}

/* A cursor at the end follows what comes later. */
static void test_follow(void)
{
    struct sbxd_outlog log = {0};
    struct sbxd_cursor c;
    sbxd_outlog_seek(&log, &c, 0);
    CHECK(read_rest(&log, &c, 100) == 0, "nothing in an empty log");
    const size_t a[] = {5, 6};
    fill(&log, a, 2);
    CHECK(read_rest(&log, &c, 100) == 11, "what came");
    fill(&log, a, 1);
    CHECK(read_rest(&log, &c, 100) == 5, "and what came next");
    sbxd_outlog_free(&log);
}

static void test_trim_to_bound(void)
{
    struct sbxd_outlog log = {0};
    const size_t lens[] = {100, 100, 100, 100};
    fill(&log, lens, 4);
    CHECK(sbxd_outlog_trim(&log, 150, UINT64_MAX) == 250, "drops down to the bound");
    CHECK(log.start == 250 && sbxd_outlog_held(&log) == 150, "start %llu", (unsigned long long)log.start);
    CHECK(sbxd_outlog_oldest(&log) == 3 && sbxd_outlog_first_run(&log) == 50, "the oldest held: part of record 3");
    struct sbxd_cursor c;
    sbxd_outlog_seek(&log, &c, 0);
    CHECK(c.pos == 250, "a seek before the log lands on its first byte");
    CHECK(read_rest(&log, &c, 1000) == 150, "the tail is whole");
    CHECK(sbxd_outlog_trim(&log, 1000, UINT64_MAX) == 0, "nothing dropped under the bound");
    CHECK(sbxd_outlog_trim(&log, 0, UINT64_MAX) == 150 && !log.head, "everything can go");
    CHECK(sbxd_outlog_oldest(&log) == UINT64_MAX && sbxd_outlog_first_run(&log) == 0, "none held");
    sbxd_outlog_free(&log);
}

/* Nothing at or past the floor is dropped, and the record a cursor names stays. */
static void test_floor(void)
{
    struct sbxd_outlog log = {0};
    const size_t lens[] = {100, 100, 100};
    fill(&log, lens, 3);
    struct sbxd_cursor c;
    sbxd_outlog_seek(&log, &c, 0);
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n = sbxd_outlog_read(&log, &c, 100, &ch, &bytes);
    sbxd_outlog_advance(&c, n); /* at 100: the end of the first record, which it names */
    CHECK(sbxd_outlog_trim(&log, 0, c.pos) == 100 && log.start == 100, "dropped up to the floor");
    CHECK(log.head && log.head->offset == 0, "the record the cursor names stays");
    CHECK(read_rest(&log, &c, 7) == 200, "the cursor reads on");
    CHECK(sbxd_outlog_trim(&log, 0, c.pos) == 200 && log.head == log.tail, "only the last record stays");
    const size_t more[] = {10};
    fill(&log, more, 1);
    CHECK(read_rest(&log, &c, 7) == 10, "and follows what comes");
    sbxd_outlog_free(&log);
}

/* Appends, trims and reads at random against a model of what must hold. */
static void test_random(void)
{
    struct sbxd_outlog log = {0};
    struct sbxd_cursor c;
    sbxd_outlog_seek(&log, &c, 0);
    srand(7);
    uint64_t read = 0;
    int ok = 1;
    for (int step = 0; step < 20000; step++) {
        int op = rand() % 3;
        if (op == 0) {
            size_t len = (size_t)(rand() % 3000) + 1;
            fill(&log, &len, 1);
        } else if (op == 1) {
            uint64_t before = log.start;
            sbxd_outlog_trim(&log, (uint64_t)(rand() % 20000), c.pos);
            ok &= log.start <= c.pos && log.start >= before;
        } else {
            enum sbxd_channel ch;
            const unsigned char *bytes;
            size_t n = sbxd_outlog_read(&log, &c, (size_t)(rand() % 5000) + 1, &ch, &bytes);
            for (size_t i = 0; i < n; i++) ok &= bytes[i] == at(c.pos + i);
            sbxd_outlog_advance(&c, n);
            read += n;
        }
    }
    CHECK(ok, "trims kept to the floor and reads matched the pattern");
    read += read_rest(&log, &c, 4096);
    CHECK(read == log.end, "the cursor read every byte: %llu of %llu", (unsigned long long)read,
          (unsigned long long)log.end);
    sbxd_outlog_free(&log);
}

int main(void)
{
    test_read_from_any_offset();
    test_follow();
    test_trim_to_bound();
    test_floor();
    test_random();
    return check_report();
}
