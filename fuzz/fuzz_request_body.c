/* libFuzzer target: sbxd's request-body parsers (create, start, timeout). */
#include <stdint.h>
#include <stdlib.h>
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct sbxd_err err;
    struct sbxd_create_req c;
    if (sbxd_parse_create(body, size, &c, &err) == 0) sbxd_create_req_free(&c);
    struct sbxd_start_req s;
    if (sbxd_parse_start(body, size, &s, &err) == 0) sbxd_start_req_free(&s);
    double t;
    sbxd_parse_timeout(body, size, &t, &err);
    return 0;
}
