#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "jbytes.h"
#include "protocol.h"

/* The string {"base64": "..."} stands for, or NULL with err set. */
static json_t *bytes_of(json_t *wrapped, const char *field, struct sbxd_err *err)
{
    json_t *b64 = json_object_get(wrapped, "base64");
    if (json_object_size(wrapped) != 1 || !json_is_string(b64))
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'%s' must be a string or {\"base64\": \"...\"}",
                         field), NULL;
    size_t n = json_string_length(b64);
    unsigned char *raw = malloc(b64_decoded_max(n) + 1);
    if (!raw) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory"), NULL;
    size_t len = b64_decode(json_string_value(b64), n, raw);
    json_t *s = NULL;
    if (len == (size_t)-1)
        sbxd_fail(err, 400, SBX_ERR_INVALID, "'%s' is not valid base64", field);
    else if (memchr(raw, '\0', len))
        sbxd_fail(err, 400, SBX_ERR_INVALID, "'%s' cannot hold a NUL byte", field);
    else if (!(s = json_stringn_nocheck((const char *)raw, len)))
        sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
    free(raw);
    return s;
}

int sbxd_unwrap_bytes_field(json_t *obj, const char *field, struct sbxd_err *err)
{
    json_t *v = json_object_get(obj, field);
    if (!json_is_object(v)) return 0;
    json_t *s = bytes_of(v, field, err);
    return s ? json_object_set_new(obj, field, s) : -1;
}

int sbxd_unwrap_bytes_values(json_t *map, const char *field, struct sbxd_err *err)
{
    if (!json_is_object(map)) return 0;
    for (void *it = json_object_iter(map); it; it = json_object_iter_next(map, it)) {
        json_t *v = json_object_iter_value(it);
        if (!json_is_object(v)) continue;
        json_t *s = bytes_of(v, field, err);
        if (!s) return -1;
        json_object_iter_set_new(map, it, s);
    }
    return 0;
}

json_t *sbxd_bytes_json(const char *s)
{
    json_t *text = json_string(s); /* NULL when s is not UTF-8 */
    if (text) return text;
    size_t n = strlen(s);
    char *b64 = malloc(b64_encoded_len(n) + 1);
    if (!b64) return NULL;
    json_t *wrapped = json_pack("{s:s%}", "base64", b64, b64_encode((const unsigned char *)s, n, b64));
    free(b64);
    return wrapped;
}

json_t *sbxd_text_json(const char *s)
{
    json_t *text = json_string(s);
    if (text) return text;
    char *shown = strdup(s);
    if (!shown) return NULL;
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c >= 0x80) *c = '?';
    text = json_string(shown);
    free(shown);
    return text;
}
