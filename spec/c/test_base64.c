/* base64: every length 0..300 round trips and matches a bit-by-bit encoding (whichever
 * encoder the CPU picks: the SIMD one takes 12 bytes a step once 16 are left); known
 * vectors; invalid input is rejected. */
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include "base64.h"
#include "check.h"

/* RFC 4648 read literally: six bits at a time, then '=' to a multiple of 4. */
static size_t reference_encode(const unsigned char *in, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t bit = 0; bit < n * 8; bit += 6) {
        unsigned v = 0;
        for (size_t k = bit; k < bit + 6; k++)
            v = v << 1 | (k < n * 8 ? (unsigned)(in[k / 8] >> (7 - k % 8) & 1) : 0u);
        out[o++] = A[v];
    }
    while (o % 4) out[o++] = '=';
    return o;
}

static void test_round_trips(void)
{
    unsigned char in[300], back[300];
    char enc[404], ref[404];
    srand(42);
    for (size_t n = 0; n <= 300; n++) {
        for (size_t i = 0; i < n; i++) in[i] = (unsigned char)rand();
        if (n % 3 == 0)
            for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(n & 1 ? 0xFF : i * 4); /* edges */
        size_t elen = b64_encode(in, n, enc);
        CHECK(elen == b64_encoded_len(n), "length %zu", n);
        CHECK(reference_encode(in, n, ref) == elen && memcmp(enc, ref, elen) == 0,
              "encoding of %zu bytes", n);
        size_t dlen = b64_decode(enc, elen, back);
        CHECK(dlen == n && memcmp(in, back, n) == 0, "round trip of %zu bytes", n);
    }
}

static void test_vectors(void)
{
    static const char *const V[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}, {"\xff\xfe\x00", "//4A"}};
    for (size_t i = 0; i < sizeof V / sizeof *V; i++) {
        size_t n = i == 7 ? 3 : strlen(V[i][0]);
        char enc[32];
        unsigned char dec[32];
        size_t elen = b64_encode((const unsigned char *)V[i][0], n, enc);
        CHECK(elen == strlen(V[i][1]) && memcmp(enc, V[i][1], elen) == 0, "encode vector %zu", i);
        CHECK(b64_decode(V[i][1], strlen(V[i][1]), dec) == n && memcmp(dec, V[i][0], n) == 0,
              "decode vector %zu", i);
    }
}

static void test_invalid(void)
{
    static const char *const BAD[] = {"Z", "Zg", "Zg=", "Zm9vY", "Z===", "=Zg=", "Zg==Zg==",
                                      "Zm9v!A==", "Zm 9v", "Zh==", "Zm9=", "Zm8=Zm8=", "Zg=a"};
    unsigned char out[64];
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++)
        CHECK(b64_decode(BAD[i], strlen(BAD[i]), out) == (size_t)-1, "'%s' must be rejected", BAD[i]);
}

/* Any byte outside the alphabet, at any position of a long encoding, fails the whole
 * decode (the decoder checks once per call, not per quantum). */
static void test_invalid_anywhere(void)
{
    unsigned char raw[48], out[48];
    char enc[64];
    for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)(i * 37 + 11);
    b64_encode(raw, sizeof raw, enc);
    int rejected = 1;
    for (size_t pos = 0; pos < sizeof enc; pos++) {
        for (int c = 0; c < 256; c++) {
            if (isalnum(c) || c == '+' || c == '/' || (c == '=' && pos >= 62)) continue;
            char bad[64];
            memcpy(bad, enc, sizeof bad);
            bad[pos] = (char)c;
            if (b64_decode(bad, sizeof bad, out) != (size_t)-1) rejected = 0;
        }
    }
    CHECK(rejected, "a byte outside the alphabet at any position must be rejected");
    CHECK(b64_decode(enc, sizeof enc, out) == sizeof raw && memcmp(out, raw, sizeof raw) == 0,
          "the unaltered encoding decodes");
}

int main(void)
{
    test_round_trips();
    test_vectors();
    test_invalid();
    test_invalid_anywhere();
    return check_report();
}
