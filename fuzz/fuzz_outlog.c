/* libFuzzer target: the output log's invariants under any sequence of appends, trims,
 * seeks and reads. Each input byte pair is an operation and its size; two cursors read
 * the log, and trims never pass the slower one (their floor), as sbxd's are. What holds
 * after each step: held == end - start <= the bytes appended; every byte read is the
 * byte appended at its offset; a cursor never falls behind the log's start. */
#include <stdint.h>
#include <stdlib.h>
#include "outlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char at(uint64_t i)
{
    return (unsigned char)(i * 131 % 251);
}

static void read_some(const struct sbxd_outlog *log, struct sbxd_cursor *c, size_t max)
{
    enum sbxd_channel ch;
    const unsigned char *bytes;
    size_t n = sbxd_outlog_read(log, c, max, &ch, &bytes);
    for (size_t i = 0; i < n; i++)
        if (bytes[i] != at(c->pos + i)) abort();
    sbxd_outlog_advance(c, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char buf[4096];
    struct sbxd_outlog log = {0};
    struct sbxd_cursor c[2];
    sbxd_outlog_seek(&log, &c[0], 0);
    sbxd_outlog_seek(&log, &c[1], 0);
    for (size_t i = 0; i + 1 < size; i += 2) {
        unsigned op = data[i] % 5, arg = data[i + 1];
        struct sbxd_cursor *cur = &c[data[i] / 5 % 2];
        uint64_t floor = c[0].pos < c[1].pos ? c[0].pos : c[1].pos;
        if (op == 0) {
            size_t n = (size_t)arg * 16 + 1;
            for (size_t j = 0; j < n; j++) buf[j] = at(log.end + j);
            if (sbxd_outlog_append(&log, arg % 2 ? SBXD_STDERR : SBXD_STDOUT, buf, n, i)) abort();
        } else if (op == 1) {
            sbxd_outlog_trim(&log, (uint64_t)arg * 8, floor);
        } else if (op == 2) {
            read_some(&log, cur, (size_t)arg * 8 + 1);
        } else if (op == 3) {
            sbxd_outlog_seek(&log, cur, log.start + arg <= log.end ? log.start + arg : log.end);
        } else {
            sbxd_outlog_oldest(&log);
            if (sbxd_outlog_first_run(&log) > sbxd_outlog_held(&log)) abort();
        }
        if (log.start > log.end || c[0].pos < log.start || c[1].pos < log.start) abort();
    }
    sbxd_outlog_free(&log);
    return 0;
}
