#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "attach_req.h"
#include "protocol.h"

void sbxd_attach_init(struct sbxd_attach_req *req)
{
    memset(req, 0, sizeof *req);
}

/* A whole number >= 0 that fits 64 bits: decimal digits only, no sign, no blank. */
static int whole_number(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int bad_number(struct sbxd_err *err, const char *what)
{
    return sbxd_fail(err, 400, SBX_ERR_INVALID, "'%s' must be a whole number >= 0", what);
}

static int writer_param(struct sbxd_attach_req *req, const char *value, size_t len, struct sbxd_err *err)
{
    if (req->writer[0]) return sbxd_fail(err, 400, SBX_ERR_INVALID, "query parameter 'writer' given twice");
    if (!sbxd_writer_id_ok(value, len))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'writer' must be 1 to %d of [0-9A-Za-z_-]", SBXD_WRITER_ID_MAX);
    memcpy(req->writer, value, len);
    req->writer[len] = '\0';
    return 0;
}

int sbxd_attach_param(struct sbxd_attach_req *req, const char *param, size_t len, struct sbxd_err *err)
{
    const char *eq = memchr(param, '=', len);
    size_t nlen = eq ? (size_t)(eq - param) : len;
    const char *value = eq ? eq + 1 : param + len;
    size_t vlen = len - nlen - (eq ? 1 : 0);
    int is_offset = nlen == 6 && !memcmp(param, "offset", 6), is_serial = nlen == 6 && !memcmp(param, "serial", 6);
    if (nlen == 6 && !memcmp(param, "writer", 6)) return writer_param(req, value, vlen, err);
    if (!is_offset && !is_serial)
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "unknown query parameter '%.*s': attach takes offset and serial (and writer on a WebSocket)",
                         (int)(nlen < 64 ? nlen : 64), param);
    int *has = is_offset ? &req->has_offset : &req->has_serial;
    if (*has) return sbxd_fail(err, 400, SBX_ERR_INVALID, "query parameter '%s' given twice", is_offset ? "offset" : "serial");
    uint64_t v;
    if (whole_number(value, vlen, &v)) return bad_number(err, is_offset ? "offset" : "serial");
    *has = 1;
    if (is_offset && !req->has_last_event_id) req->offset = v;
    if (is_serial) req->serial = v;
    return 0;
}

int sbxd_attach_last_event_id(struct sbxd_attach_req *req, const char *value, size_t len,
                              struct sbxd_err *err)
{
    while (len && (*value == ' ' || *value == '\t')) value++, len--;
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t')) len--;
    uint64_t v;
    if (whole_number(value, len, &v)) return bad_number(err, "Last-Event-ID");
    req->offset = v;
    req->has_last_event_id = 1;
    return 0;
}

int sbxd_wants_frames(const char *accept, size_t len)
{
    static const char TYPE[] = SBX_FRAMES_TYPE;
    if (!accept) return 0;
    size_t i = 0;
    while (i < len && isspace((unsigned char)accept[i])) i++;
    size_t n = sizeof TYPE - 1;
    if (len - i < n || strncasecmp(accept + i, TYPE, n) != 0) return 0;
    i += n;
    while (i < len && isspace((unsigned char)accept[i])) i++;
    return i == len || accept[i] == ';' || accept[i] == ',';
}
