/* A WebSocket request, before lws upgrades it: the checks every route makes (head size,
 * key), then its route, its handshake headers, its subprotocol and what it is for. A
 * refusal is an ordinary JSON answer with its status, and no upgrade: a client learns
 * why, where a failed handshake would only show a closed connection. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "attach_req.h"
#include "base64.h"
#include "protocol.h"
#include "ws.h"

/* The next token of a comma-separated header value, blanks trimmed: its start and
 * length, and where the rest begins. 0 at the end. */
static int next_token(const char **s, const char **tok, size_t *len)
{
    const char *p = *s;
    while (*p == ',' || isspace((unsigned char)*p)) p++;
    if (!*p) return 0;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && isspace((unsigned char)end[-1])) end--;
    *tok = start;
    *len = (size_t)(end - start);
    *s = p;
    return 1;
}

/* The header's value (a known one), NUL-terminated in buf; "" when absent. */
static const char *header(struct lws *wsi, enum lws_token_indexes token, char *buf, size_t cap)
{
    if (lws_hdr_copy(wsi, buf, (int)cap, token) < 0) buf[0] = '\0';
    return buf;
}

static int has_token(const char *value, const char *want)
{
    const char *tok;
    size_t len;
    while (next_token(&value, &tok, &len))
        if (len == strlen(want) && strncasecmp(tok, want, len) == 0) return 1;
    return 0;
}

/* lws binds the first subprotocol of the list it knows: sbx.v1 must come before the
 * name of sbxd's HTTP protocol, which would otherwise take the connection. */
static int offers_sbx(const char *value)
{
    const char *tok;
    size_t len;
    while (next_token(&value, &tok, &len)) {
        if (len == strlen(SBX_WS_PROTOCOL) && memcmp(tok, SBX_WS_PROTOCOL, len) == 0) return 1;
        if (len == strlen(sbxd_protocols[0].name) && memcmp(tok, sbxd_protocols[0].name, len) == 0) return 0;
    }
    return 0;
}

/* Sec-WebSocket-Key: the base64 of 16 bytes (RFC 6455 4.1). */
static int good_key(const char *key)
{
    unsigned char raw[24];
    size_t n = strlen(key);
    return n == 24 && b64_decode(key, n, raw) == 16;
}

/* The handshake's own headers, and the subprotocol. */
static int handshake_refused(struct lws *wsi, struct sbxd_err *err)
{
    char buf[SBXD_FIELD_MAX + 2];
    if (!has_token(header(wsi, WSI_TOKEN_CONNECTION, buf, sizeof buf), "upgrade"))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "a WebSocket upgrade needs 'Connection: Upgrade'");
    if (strcmp(header(wsi, WSI_TOKEN_VERSION, buf, sizeof buf), "13") != 0)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "Sec-WebSocket-Version must be 13");
    if (!good_key(header(wsi, WSI_TOKEN_KEY, buf, sizeof buf)))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "Sec-WebSocket-Key must be the base64 of 16 bytes");
    if (!offers_sbx(header(wsi, WSI_TOKEN_PROTOCOL, buf, sizeof buf)))
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "the WebSocket subprotocol must be " SBX_WS_PROTOCOL " (Sec-WebSocket-Protocol)");
    return 0;
}

/* The start route's query: a writer id at most. */
static int start_query(struct lws *wsi, struct sbxd_ws_target *t, struct sbxd_err *err)
{
    struct sbxd_attach_req req;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) <= 0) return 0;
    if (sbxd_attach_query(wsi, &req, err)) return -1;
    if (req.has_offset || req.has_serial)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "the start route takes only writer: the start message says the rest");
    memcpy(t->writer, req.writer, sizeof t->writer);
    return 0;
}

int sbxd_ws_target(struct lws *wsi, struct sbxd_server *srv, struct sbxd_ws_target *t, struct sbxd_err *err)
{
    char path[SBXD_URI_MAX + 2], id[64];
    pid_t pid;
    memset(t, 0, sizeof *t);
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || !sbxd_route_ws(path, id, sizeof id, &pid))
        return sbxd_fail(err, 404, SBX_ERR_NOT_FOUND, "no WebSocket at this route");
    if (!(t->box = sbxd_sandbox_find(srv, id))) return sbxd_fail(err, 404, SBX_ERR_NOT_FOUND, "no sandbox '%.64s'", id);
    if (pid == 0) return start_query(wsi, t, err);
    struct sbxd_attach_req req;
    if (!(t->proc = sbxd_attach_find(wsi, t->box, pid, &req, err))) return -1;
    t->offset = req.offset;
    memcpy(t->writer, req.writer, sizeof t->writer);
    return 0;
}

/* What every route checks first: the head's size, the key; then that this is a GET of
 * a WebSocket route, asking for a WebSocket. */
static int request_refused(struct lws *wsi, struct sbxd_server *srv, const char *upgrade, struct sbxd_err *err)
{
    if (sbxd_head_refused(wsi, err)) return -1;
    if (!sbxd_authorized(wsi, srv->api_key))
        return sbxd_fail(err, 401, SBX_ERR_AUTH, "missing or wrong API key");
    if (sbxd_transfer_coding_refused(wsi, err)) return -1;
    if (strcasecmp(upgrade, "websocket") != 0)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "sbxd upgrades to a WebSocket only");
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return sbxd_fail(err, 405, SBX_ERR_INVALID, "a WebSocket upgrade is a GET");
    return 0;
}

int sbxd_ws_confirm_upgrade(struct lws *wsi, struct sbxd_server *srv, const char *upgrade)
{
    struct sbxd_err err;
    struct sbxd_ws_target t;
    if (request_refused(wsi, srv, upgrade ? upgrade : "", &err) == 0 && handshake_refused(wsi, &err) == 0 &&
        sbxd_ws_target(wsi, srv, &t, &err) == 0)
        return 0;
    return sbxd_reply_refusal(wsi, &err) ? -1 : 1;
}
