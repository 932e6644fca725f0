#include "base64.h"

#include <stdint.h>
#include <string.h>

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

size_t b64_decoded_max(size_t n) { return n / 4 * 3; }

/* The two characters of every 12-bit value: one lookup per pair of output characters
 * (sbxd encodes every byte of output a command writes). */
#define B64CHAR(x) ((x) < 26 ? 'A' + (x) : (x) < 52 ? 'a' + (x) - 26 : (x) < 62 ? '0' + (x) - 52 \
                    : (x) == 62 ? '+' : '/')
#define PAIR(i) {(char)B64CHAR((i) >> 6), (char)B64CHAR((i) & 63)}
#define P4(c) PAIR(c), PAIR(c + 1), PAIR(c + 2), PAIR(c + 3)
#define P16(c) P4(c), P4(c + 4), P4(c + 8), P4(c + 12)
#define P64(c) P16(c), P16(c + 16), P16(c + 32), P16(c + 48)
#define P256(c) P64(c), P64(c + 64), P64(c + 128), P64(c + 192)
#define P1024(c) P256(c), P256(c + 256), P256(c + 512), P256(c + 768)
static const char PAIRS[4096][2] = {P1024(0), P1024(1024), P1024(2048), P1024(3072)};

/* The scalar encoder from in[0..n) into out. */
static size_t encode_scalar(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3, o += 4) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        memcpy(out + o, PAIRS[v >> 12], 2);
        memcpy(out + o + 2, PAIRS[v & 0xFFF], 2);
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

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>

/* 12 input bytes to 16 characters a step with SSSE3 (the bit-split by multiplies and the
 * range lookup by pshufb that SIMD base64 encoders share). Reads 16 bytes a step, so it
 * stops while 16 remain and the scalar loop takes the rest. Returns bytes consumed. */
__attribute__((target("ssse3"))) static size_t encode_ssse3(const unsigned char *in, size_t n,
                                                          char *out)
{
    /* Each 32-bit lane gets one 3-byte group as bytes b1 b0 b2 b1. */
    const __m128i spread = _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
    /* Added to a sextet by its range: 0-25 'A', 26-51 'a', 52-61 '0', 62 '+', 63 '/'. */
    const __m128i shift = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                        '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                        '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    size_t i = 0;
    for (; i + 16 <= n; i += 12, out += 16) {
        __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + i)), spread);
        /* Sextets a and c to the low bits of their bytes, b and d shifted up to theirs. */
        __m128i ac = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00)),
                                     _mm_set1_epi32(0x04000040));
        __m128i bd = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003f03f0)),
                                     _mm_set1_epi32(0x01000010));
        __m128i sextets = _mm_or_si128(ac, bd);
        /* Range index: 52..63 to 1..12, then 0..25 to 13 (26..51 stays 0). */
        __m128i range = _mm_subs_epu8(sextets, _mm_set1_epi8(51));
        __m128i upper = _mm_cmpgt_epi8(_mm_set1_epi8(26), sextets);
        range = _mm_or_si128(range, _mm_and_si128(upper, _mm_set1_epi8(13)));
        __m128i chars = _mm_add_epi8(sextets, _mm_shuffle_epi8(shift, range));
        _mm_storeu_si128((__m128i *)out, chars);
    }
    return i;
}

size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t done = n >= 16 && __builtin_cpu_supports("ssse3") ? encode_ssse3(in, n, out) : 0;
    return done / 3 * 4 + encode_scalar(in + done, n - done, out + done / 3 * 4);
}
#else
size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    return encode_scalar(in, n, out);
}
#endif

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

/* The sextet of c already in its place in a quantum's 24 bits (shift 18, 12, 6 or 0), or
 * BAD: four lookups ORed give the quantum's value and whether it was all alphabet. */
#define BAD 0x80000000u
#define SX(c) ((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 \
             : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 : (c) == '+' ? 62 : (c) == '/' ? 63 : -1)
#define PLACED(c, shift) (SX(c) < 0 ? BAD : (uint32_t)SX(c) << (shift))
#define R4(f, c, s) f(c, s), f(c + 1, s), f(c + 2, s), f(c + 3, s)
#define R16(f, c, s) R4(f, c, s), R4(f, c + 4, s), R4(f, c + 8, s), R4(f, c + 12, s)
#define R64(f, c, s) R16(f, c, s), R16(f, c + 16, s), R16(f, c + 32, s), R16(f, c + 48, s)
#define R256(f, s) {R64(f, 0, s), R64(f, 64, s), R64(f, 128, s), R64(f, 192, s)}
static const uint32_t AT18[256] = R256(PLACED, 18), AT12[256] = R256(PLACED, 12),
                      AT6[256] = R256(PLACED, 6), AT0[256] = R256(PLACED, 0);

size_t b64_decode(const char *in, size_t n, unsigned char *out)
{
    if (n % 4) return (size_t)-1;
    if (n == 0) return 0;
    const unsigned char *u = (const unsigned char *)in, *last = u + n - 4;
    unsigned char *o = out;
    uint32_t seen = 0; /* OR of every quantum: BAD set when a character was not base64 */
    for (; u < last; u += 4, o += 3) {
        uint32_t v = AT18[u[0]] | AT12[u[1]] | AT6[u[2]] | AT0[u[3]];
        seen |= v;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
    }
    if (seen & BAD) return (size_t)-1;
    size_t t = decode_tail((const char *)last, o);
    return t == (size_t)-1 ? t : (size_t)(o - out) + t;
}
