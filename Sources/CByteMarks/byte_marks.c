/* byte_marks.c: the statements previrt as's source scan must look at (see pv_byte_marks.h).
 * With SSE2 (every x86-64) sixteen bytes are compared at once; elsewhere, and at the end of the
 * buffer, one at a time.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "pv_byte_marks.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int is_mark(uint8_t c)
{
    return c == '\n' || c == ';' || c == '#' || c == '"' || c == ':';
}

/* The bytes of a word as the scan reads one: letters, digits, '_', '.' and '$'. */
#define W2(c) [c] = 1, [c + 1] = 1
#define W10(c) W2(c), W2(c + 2), W2(c + 4), W2(c + 6), W2(c + 8)
static const uint8_t word_byte[256] = {
    W10('0'), W10('A'), W10('K'), W2('U'), W2('W'), W2('Y'), W10('a'), W10('k'), W2('u'), W2('w'), W2('y'),
    ['_'] = 1, ['.'] = 1, ['$'] = 1,
};

/* The bytes that may follow a '%' where such a register starts: one of c d e f g s, then one of r b s,
 * in either case (a first filter: %eax passes neither, %esi both). */
static const uint8_t register_first[256] = {
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['s'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['S'] = 1,
};
static const uint8_t register_second[256] = { ['r'] = 1, ['b'] = 1, ['s'] = 1, ['R'] = 1, ['B'] = 1, ['S'] = 1 };

/* Whether the '%' at s[j] starts %crN, %drN, %dbN (a digit follows), or %cs, %ds, %es, %fs, %gs, %ss not
 * followed by a word byte or ':' (a segment override such as %fs:40 is not a segment register operand),
 * in any case, within s[..n). SourceScan's isSpecialRegister is the same test. */
static int special_register(const uint8_t *s, size_t j, size_t n)
{
    if (s[j] != '%' || j + 2 >= n)
        return 0;
    uint8_t a = s[j + 1] | 0x20, b = s[j + 2] | 0x20, after = j + 3 < n ? s[j + 3] : ' ';
    if ((a == 'c' && b == 'r') || (a == 'd' && (b == 'r' || b == 'b')))
        return after >= '0' && after <= '9';
    if (b == 's' && (a == 'c' || a == 'd' || a == 'e' || a == 'f' || a == 'g' || a == 's'))
        return !word_byte[after] && after != ':';
    return 0;
}

size_t pv_next_register_start(const uint8_t *s, size_t n, size_t at)
{
    size_t j = at;
#if defined(__SSE2__)
    /* The '%' bytes of 64 at a time, found sixteen at a time; each then tested on its own (compiler
     * output has about one in fifteen bytes). The filter reads two bytes past the block. */
    const __m128i percent = _mm_set1_epi8('%');
    while (j + 66 <= n) {
        uint64_t p = 0;
        for (int q = 0; q < 4; q++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + j + 16 * q));
            p |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, percent)) << (16 * q);
        }
        while (p != 0) {
            size_t k = j + (size_t)__builtin_ctzll(p);
            if ((register_first[s[k + 1]] & register_second[s[k + 2]]) && special_register(s, k, n))
                return k;
            p &= p - 1;
        }
        j += 64;
    }
#endif
    for (; j < n; j++)
        if (special_register(s, j, n))
            return j;
    return n;
}

/* Whether s[i..end) is one word, then the colon at s[colon], then only blanks: a lone label. */
static int lone_label(const uint8_t *s, size_t i, size_t colon, size_t end)
{
    if (colon <= i)
        return 0;
    for (size_t j = i; j < colon; j++)
        if (!word_byte[s[j]])
            return 0;
    for (size_t j = colon + 1; j < end; j++)
        if (s[j] != ' ' && s[j] != '\t')
            return 0;
    return 1;
}

/* The marks (newline ; # " :) of the 64-byte block b, one bit per byte. */
static uint64_t block_marks(const uint8_t *s, size_t n, size_t b)
{
    size_t from = 64 * b;
    uint64_t m = 0;
#if defined(__SSE2__)
    if (from + 64 <= n) {
        /* '"' and '#' are 0x22 and 0x23, ':' and ';' 0x3a and 0x3b: each pair is one compare of v | 1. */
        const __m128i newline = _mm_set1_epi8('\n'), one = _mm_set1_epi8(1);
        const __m128i hash = _mm_set1_epi8('#'), semicolon = _mm_set1_epi8(';');
        for (int q = 0; q < 4; q++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + from + 16 * q));
            __m128i odd = _mm_or_si128(v, one);
            __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, newline),
                                       _mm_or_si128(_mm_cmpeq_epi8(odd, hash), _mm_cmpeq_epi8(odd, semicolon)));
            m |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * q);
        }
        return m;
    }
#endif
    for (size_t j = from; j < n && j < from + 64; j++)
        if (is_mark(s[j]))
            m |= (uint64_t)1 << (j - from);
    return m;
}

/* The walk's view of the marks, taken in order: the block it is in and that block's marks not yet
 * taken. Every mark is taken once, in order: a statement ends at the first mark after its start that is
 * not inside quotes, and blanks and comments hold no mark that matters. */
struct marks {
    const uint8_t *s;
    size_t n, blocks, block;
    uint64_t bits;
};

/* The marks at or after from (the walk's start). */
static void start_marks(struct marks *m, size_t from)
{
    m->block = from >> 6;
    m->bits = m->block < m->blocks ? block_marks(m->s, m->n, m->block) & (~(uint64_t)0 << (from & 63)) : 0;
}

/* The next mark not yet taken, or n. */
static size_t take_mark(struct marks *m)
{
    while (m->bits == 0) {
        if (m->block + 1 >= m->blocks)
            return m->n;
        m->block++;
        m->bits = block_marks(m->s, m->n, m->block);
    }
    size_t p = (m->block << 6) | (size_t)__builtin_ctzll(m->bits);
    m->bits &= m->bits - 1;
    return p;
}

size_t pv_candidate_statements(const uint8_t *s, size_t n, const uint64_t *pairs, size_t *at, size_t *starts,
                               size_t *ends, size_t capacity)
{
    struct marks m = { s, n, (n + 63) / 64, 0, 0 };
    size_t count = 0, i = *at;
    start_marks(&m, i);
    while (i < n && count < capacity) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        int quoted = 0, colon = 0;
        size_t end, last_colon = 0;
        for (;;) {
            end = take_mark(&m);
            if (end >= n)
                break;
            uint8_t c = s[end];
            if (c == ':') {
                colon = 1;
                if (!quoted)
                    last_colon = end;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (!quoted) {
                break;
            }
        }
        /* A statement that is one label and nothing else (`.L5:`, nearly a tenth of gcc -O2 output)
         * starts nothing: its name is a word followed by its colon, and only blanks follow. */
        int candidate = colon && !lone_label(s, i, last_colon, end);
        if (!candidate && i + 1 < end) {
            unsigned pair = (unsigned)(s[i] | 0x20) | (unsigned)(s[i + 1] | 0x20) << 8;
            candidate = (pairs[pair >> 6] >> (pair & 63)) & 1;
        } else if (!candidate && i < end) {
            candidate = 1;
        }
        if (candidate) {
            starts[count] = i;
            ends[count] = end;
            count++;
        }
        /* A comment runs to the end of the line: its marks are passed over up to its newline. */
        if (end < n && s[end] == '#')
            do
                end = take_mark(&m);
            while (end < n && s[end] != '\n');
        i = end + 1;
    }
    *at = i < n ? i : n;
    return count;
}
