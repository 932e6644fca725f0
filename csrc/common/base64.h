/* Standard base64 (RFC 4648, with padding): output bytes travel as base64 in JSON/SSE. */
#ifndef SBX_BASE64_H
#define SBX_BASE64_H
#include <stddef.h>

/* Bytes needed to encode n input bytes (without a terminating NUL). */
size_t b64_encoded_len(size_t n);
/* Upper bound of the decoded size of n base64 characters. */
size_t b64_decoded_max(size_t n);

/* Writes b64_encoded_len(n) bytes to out. Returns that length. */
size_t b64_encode(const unsigned char *in, size_t n, char *out);

/* Decodes n characters into out (at least b64_decoded_max(n) bytes).
 * Returns the decoded length, or (size_t)-1 on invalid input: a length that is not a
 * multiple of 4, a character outside the alphabet, misplaced padding or non-zero pad bits. */
size_t b64_decode(const char *in, size_t n, unsigned char *out);

#endif
