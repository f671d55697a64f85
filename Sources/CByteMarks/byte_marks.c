/* byte_marks.c: the bytes previrt as's source scan hops between (see pv_byte_marks.h).
 * With SSE2 (every x86-64) sixteen bytes are compared at once; elsewhere, and at the end of the
 * buffer, one at a time.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pv_byte_marks.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int is_end(uint8_t c)
{
    return c == '\n' || c == ';' || c == '#' || c == '"' || c == ':';
}

static int starts_register(const uint8_t *s, size_t j, size_t n)
{
    if (s[j] != '%' || j + 2 >= n)
        return 0;
    uint8_t a = s[j + 1] | 0x20, b = s[j + 2] | 0x20;
    return (a == 'c' || a == 'd' || a == 'e' || a == 'f' || a == 'g' || a == 's') && (b == 'r' || b == 'b' || b == 's');
}

/* Bytes [from, to) of block b, one at a time. */
static void mark_slowly(const uint8_t *s, size_t n, size_t b, size_t from, size_t to, uint64_t *ends, uint64_t *registers)
{
    uint64_t e = 0, r = 0;
    for (size_t j = from; j < to; j++) {
        if (is_end(s[j]))
            e |= (uint64_t)1 << (j - 64 * b);
        if (starts_register(s, j, n))
            r |= (uint64_t)1 << (j - 64 * b);
    }
    ends[b] = e;
    registers[b] = r;
}

void pv_mark_bytes(const uint8_t *s, size_t n, uint64_t *ends, uint64_t *registers)
{
    size_t blocks = n / 64;
    size_t b = 0;
#if defined(__SSE2__)
    /* The register test reads two bytes past each 16: the last full block may go one at a time. */
    size_t fast = n >= 66 ? (n - 2) / 64 : 0;
    const __m128i newline = _mm_set1_epi8('\n'), semicolon = _mm_set1_epi8(';'), hash = _mm_set1_epi8('#');
    const __m128i quote = _mm_set1_epi8('"'), colon = _mm_set1_epi8(':'), percent = _mm_set1_epi8('%');
    const __m128i lower = _mm_set1_epi8(0x20);
    for (; b < fast; b++) {
        uint64_t e = 0, r = 0;
        for (int q = 0; q < 4; q++) {
            const uint8_t *p = s + 64 * b + 16 * q;
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i end = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, newline), _mm_cmpeq_epi8(v, semicolon)),
                                       _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, hash), _mm_cmpeq_epi8(v, quote)),
                                                    _mm_cmpeq_epi8(v, colon)));
            e |= (uint64_t)(uint16_t)_mm_movemask_epi8(end) << (16 * q);
            int pct = _mm_movemask_epi8(_mm_cmpeq_epi8(v, percent));
            if (pct) {
                __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + 1)), lower);
                __m128i c = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + 2)), lower);
                /* a in c..g: a - 'c' <= 4 unsigned, that is max(a - 'c', 4) == 4 with saturation. */
                __m128i d = _mm_subs_epu8(a, _mm_set1_epi8('c'));
                __m128i ok_a = _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(4)), d),
                                                          _mm_cmpeq_epi8(_mm_max_epu8(a, _mm_set1_epi8('c')), a)),
                                            _mm_cmpeq_epi8(a, _mm_set1_epi8('s')));
                __m128i ok_c = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('r')), _mm_cmpeq_epi8(c, _mm_set1_epi8('b'))),
                                            _mm_cmpeq_epi8(c, _mm_set1_epi8('s')));
                r |= (uint64_t)(uint16_t)(pct & _mm_movemask_epi8(_mm_and_si128(ok_a, ok_c))) << (16 * q);
            }
        }
        ends[b] = e;
        registers[b] = r;
    }
#endif
    for (; b < blocks; b++)
        mark_slowly(s, n, b, 64 * b, 64 * b + 64, ends, registers);
    if (n % 64)
        mark_slowly(s, n, blocks, 64 * blocks, n, ends, registers);
}

/* The first marked position at or after from, or n. */
static size_t next_mark(const uint64_t *ends, size_t blocks, size_t n, size_t from)
{
    size_t b = from >> 6;
    if (b >= blocks)
        return n;
    uint64_t bits = ends[b] & (~(uint64_t)0 << (from & 63));
    while (bits == 0) {
        if (++b >= blocks)
            return n;
        bits = ends[b];
    }
    return (b << 6) | (size_t)__builtin_ctzll(bits);
}

size_t pv_candidate_statements(const uint8_t *s, size_t n, const uint64_t *ends, const uint64_t *pairs,
                               size_t *at, size_t *starts, size_t *ends_out, size_t capacity)
{
    size_t blocks = (n + 63) / 64, count = 0, i = *at;
    while (i < n && count < capacity) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        int quoted = 0, colon = 0;
        size_t end = i;
        for (;;) {
            end = next_mark(ends, blocks, n, end);
            if (end >= n)
                break;
            uint8_t c = s[end];
            if (c == ':')
                colon = 1;
            else if (c == '"')
                quoted = !quoted;
            else if (!quoted)
                break;
            end++;
        }
        int candidate = colon;
        if (!candidate && i + 1 < end) {
            unsigned pair = (unsigned)(s[i] | 0x20) | (unsigned)(s[i + 1] | 0x20) << 8;
            candidate = (pairs[pair >> 6] >> (pair & 63)) & 1;
        } else if (!candidate && i < end) {
            candidate = 1;
        }
        if (candidate) {
            starts[count] = i;
            ends_out[count] = end;
            count++;
        }
        /* A comment runs to the end of the line. */
        if (end < n && s[end] == '#')
            while (end < n && s[end] != '\n')
                end++;
        i = end + 1;
    }
    *at = i < n ? i : n;
    return count;
}
