#include "base64.h"

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

size_t b64_decoded_max(size_t n) { return n / 4 * 3; }

size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = ALPHABET[v >> 18 & 63];
        out[o++] = ALPHABET[v >> 12 & 63];
        out[o++] = ALPHABET[v >> 6 & 63];
        out[o++] = ALPHABET[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0u);
        out[o++] = ALPHABET[v >> 18 & 63];
        out[o++] = ALPHABET[v >> 12 & 63];
        out[o++] = i + 1 < n ? ALPHABET[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

/* 0..63 for alphabet characters, 0xFF otherwise: one load per character in the hot
 * loop (output of every command passes through here). */
static const unsigned char SEXTET[256] = {
#define X 0xFF
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
#undef X
};

static int sextet(unsigned char c)
{
    return SEXTET[c] == 0xFF ? -1 : SEXTET[c];
}

/* Decodes the last quantum, which may carry one or two '=' pads. */
static size_t decode_tail(const char *q, unsigned char *out)
{
    int a = sextet((unsigned char)q[0]), b = sextet((unsigned char)q[1]);
    if (a < 0 || b < 0) return (size_t)-1;
    if (q[2] == '=') {
        if (q[3] != '=' || (b & 15)) return (size_t)-1;
        out[0] = (unsigned char)(a << 2 | b >> 4);
        return 1;
    }
    int c = sextet((unsigned char)q[2]);
    if (c < 0) return (size_t)-1;
    if (q[3] == '=') {
        if (c & 3) return (size_t)-1;
        out[0] = (unsigned char)(a << 2 | b >> 4);
        out[1] = (unsigned char)(b << 4 | c >> 2);
        return 2;
    }
    int d = sextet((unsigned char)q[3]);
    if (d < 0) return (size_t)-1;
    out[0] = (unsigned char)(a << 2 | b >> 4);
    out[1] = (unsigned char)(b << 4 | c >> 2);
    out[2] = (unsigned char)(c << 6 | d);
    return 3;
}

size_t b64_decode(const char *in, size_t n, unsigned char *out)
{
    if (n % 4) return (size_t)-1;
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i + 4 < n; i += 4) {
        unsigned a = SEXTET[u[i]], b = SEXTET[u[i + 1]], c = SEXTET[u[i + 2]], d = SEXTET[u[i + 3]];
        if ((a | b | c | d) & 0x80) return (size_t)-1; /* only 0xFF has the top bit */
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        out[o++] = (unsigned char)(b << 4 | c >> 2);
        out[o++] = (unsigned char)(c << 6 | d);
    }
    if (n == 0) return 0;
    size_t t = decode_tail(in + n - 4, out + o);
    return t == (size_t)-1 ? t : o + t;
}
