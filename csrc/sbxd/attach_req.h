/* An attach request's parameters (GET .../processes/{pid}/events): the query's offset and
 * serial, and the Last-Event-ID header, which wins over the offset; and which stream
 * format the Accept header asks for. No server state: a fuzz target's entry point. */
#ifndef SBXD_ATTACH_REQ_H
#define SBXD_ATTACH_REQ_H
#include <stdint.h>
#include "sbxd.h"
#include "writers.h"

struct sbxd_attach_req {
    uint64_t offset;           /* 0 unless given */
    uint64_t serial;
    char writer[SBXD_WRITER_ID_MAX + 1]; /* a WebSocket session's writer id, "" unless given */
    int has_offset, has_serial, has_last_event_id;
};

void sbxd_attach_init(struct sbxd_attach_req *req);
/* One query parameter, "name=value" as lws decoded it (len bytes): offset, serial (whole
 * numbers >= 0) or writer (writers.h). 400 with err set for an unknown or repeated name or
 * a bad value. */
int sbxd_attach_param(struct sbxd_attach_req *req, const char *param, size_t len, struct sbxd_err *err);
/* The Last-Event-ID header's value: an offset that wins over the query's. */
int sbxd_attach_last_event_id(struct sbxd_attach_req *req, const char *value, size_t len,
                              struct sbxd_err *err);
/* Whether an Accept header (NULL: none) asks for frames: its first media range is
 * application/vnd.sbx.frames (parameters and case aside). */
int sbxd_wants_frames(const char *accept, size_t len);

#endif
