/* libFuzzer target: an attach request's query parameters and Last-Event-ID, and the
 * Accept check. The input's first line is the Last-Event-ID value (absent when the line
 * is empty); the rest is the query, its parameters split at '&'. Whatever is accepted
 * must be what the parsers promise: a whole number that fits 64 bits, a writer id of the
 * allowed characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attach_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data, *nl = memchr(in, '\n', size);
    size_t head = nl ? (size_t)(nl - in) : size;
    struct sbxd_attach_req req;
    struct sbxd_err err;
    sbxd_attach_init(&req);
    sbxd_wants_frames(in, size);
    int failed = head && sbxd_attach_last_event_id(&req, in, head, &err);
    if (failed && err.status != 400) abort();
    const char *at = nl ? nl + 1 : in + size, *end = in + size;
    while (!failed && at < end) {
        const char *amp = memchr(at, '&', (size_t)(end - at));
        size_t len = amp ? (size_t)(amp - at) : (size_t)(end - at);
        if ((failed = sbxd_attach_param(&req, at, len, &err)) && err.status != 400) abort();
        at += len + 1;
    }
    if (!failed && head && !req.has_last_event_id) abort();
    /* a writer id taken is one the check allows, NUL-terminated in its field */
    size_t wlen = strnlen(req.writer, sizeof req.writer);
    if (wlen == sizeof req.writer || (wlen && !sbxd_writer_id_ok(req.writer, wlen))) abort();
    return 0;
}
