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

/* 0..63 for alphabet characters, -1 otherwise. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
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
    for (size_t i = 0; i + 4 < n; i += 4) {
        int a = sextet((unsigned char)in[i]), b = sextet((unsigned char)in[i + 1]);
        int c = sextet((unsigned char)in[i + 2]), d = sextet((unsigned char)in[i + 3]);
        if ((a | b | c | d) < 0) return (size_t)-1;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        out[o++] = (unsigned char)(b << 4 | c >> 2);
        out[o++] = (unsigned char)(c << 6 | d);
    }
    if (n == 0) return 0;
    size_t t = decode_tail(in + n - 4, out + o);
    return t == (size_t)-1 ? t : o + t;
}
