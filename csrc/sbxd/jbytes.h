/* Byte strings in JSON. A command, a path or an env value is bytes, but JSON strings are
 * UTF-8 text: one that is not UTF-8 travels as {"base64": "..."} instead, both ways
 * (docs/PROTOCOL.md "Bytes in text fields"). None may hold a NUL byte (they end up as C
 * strings: exec's arguments, a path). */
#ifndef SBXD_JBYTES_H
#define SBXD_JBYTES_H
#include <jansson.h>
#include "sbxd.h"

/* obj[field], when it is {"base64": "..."}, becomes the string of its bytes (made without
 * UTF-8 checking: the rest of sbxd reads it as a C string). 0, or -1 with err set. */
int sbxd_unwrap_bytes_field(json_t *obj, const char *field, struct sbxd_err *err);
/* The same for each value of object `map` (env); `field` names it in a refusal. Anything
 * but an object is left for the caller to refuse. */
int sbxd_unwrap_bytes_values(json_t *map, const char *field, struct sbxd_err *err);
/* s as JSON: a string when it is UTF-8, else {"base64": "..."}; NULL when out of memory. */
json_t *sbxd_bytes_json(const char *s);
/* s as a JSON string, its bytes that are not UTF-8 each shown as '?' (a message that
 * quotes a path of bytes). */
json_t *sbxd_text_json(const char *s);

#endif
