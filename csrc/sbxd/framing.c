/* How a request is framed, where lws 4.1 leaves it to its user: the length of its body,
 * the 100 Continue a client may wait for, and a CONNECT, which lws turns into a tunnel. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include "http.h"
#include "protocol.h"

/* The body's length the head gives, when it gives one that is a length: one value, of
 * digits only, at most 16 of them. -1 for anything else (a sign, a second
 * Content-Length, a number too long), whose body lws would read at a length of its own
 * making: of two, the first (the rest read as the next request); for -1, until its body
 * timeout, answering nothing. */
static long long content_length(struct lws *wsi)
{
    char cl[32];
    int n = lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    while (n > 0 && (cl[n - 1] == ' ' || cl[n - 1] == '\t')) n--; /* lws keeps trailing blanks */
    if (n <= 0 || n > 16 || lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0) return -1;
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)cl[i])) return -1;
    return strtoll(cl, NULL, 10);
}

int sbxd_body_length_refused(struct lws *wsi, size_t max_body, struct sbxd_err *err)
{
    long long len = content_length(wsi);
    if (len < 0) return sbxd_fail(err, 400, SBX_ERR_INVALID, "Content-Length must be one number of bytes");
    if ((unsigned long long)len > max_body)
        return sbxd_fail(err, 413, SBX_ERR_INVALID, "request body over the limit");
    return 0;
}

int sbxd_has_content_length(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
}

int sbxd_has_transfer_coding(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

/* A body in chunks (or any other coding) has a length sbxd cannot tell: it would read
 * the chunks' framing as the body, or as the next request. With a Content-Length too,
 * the head gives two lengths, and a proxy in front that took the other one would pass
 * on the rest of the body as a request of its own (RFC 9112, 6.3). */
int sbxd_transfer_coding_refused(struct lws *wsi, struct sbxd_err *err)
{
    if (!sbxd_has_transfer_coding(wsi)) return 0;
    if (sbxd_has_content_length(wsi))
        return sbxd_fail(err, 400, SBX_ERR_INVALID,
                         "a request has a Content-Length or a Transfer-Encoding, not both");
    return sbxd_fail(err, 411, SBX_ERR_INVALID,
                     "sbxd takes no Transfer-Encoding: a body needs a Content-Length");
}

/* A client that sent "Expect: 100-continue" (curl does before a body over 1 MiB) waits
 * for "100 Continue" before its body, or a while (curl: 1 s); lws sends none. Nothing
 * of this transaction has been written yet; the 100 goes straight to the socket unless
 * lws still holds bytes of an earlier answer (they go first: the client then waits). */
void sbxd_continue_if_expected(struct lws *wsi)
{
    static const char CONTINUE[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char expect[32];
    int n = lws_hdr_copy(wsi, expect, sizeof expect, WSI_TOKEN_HTTP_EXPECT);
    if (n > 0 && !strcasecmp(expect, "100-continue") && !lws_partial_buffered(wsi))
        (void)send(lws_get_socket_fd(wsi), CONTINUE, sizeof CONTINUE - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* lws turns a CONNECT request into a raw connection (how it serves a proxy's tunnel) and
 * hands it to the first protocol, on which no request ever ends: left so, it stays open
 * and unanswered for ever, key or none. sbxd tunnels nothing: a 405, then the close (lws
 * read the head already: nothing is left unread to reset the connection). */
int sbxd_refuse_tunnel(struct lws *wsi)
{
    struct sbxd_err err;
    sbxd_fail(&err, 405, SBX_ERR_INVALID, "CONNECT is not served: sbxd tunnels nothing");
    /* the body of every refusal; the head by hand, as lws writes none on a raw connection */
    json_t *doc = sbxd_error_doc(&err);
    char body[256], answer[512];
    size_t len = doc ? json_dumpb(doc, body, sizeof body, JSON_COMPACT) : 0;
    json_decref(doc);
    if (len == 0 || len > sizeof body || lws_partial_buffered(wsi)) return -1;
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json\r\n"
                     "content-length: %zu\r\nconnection: close\r\n\r\n%.*s",
                     len, (int)len, body);
    if (n > 0 && (size_t)n < sizeof answer)
        (void)send(lws_get_socket_fd(wsi), answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    return -1;
}
