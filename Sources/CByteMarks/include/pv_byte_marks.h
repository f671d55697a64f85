/* pv_byte_marks.h: the statements of an assembly source that previrt as's source scan must look at,
 * found 16 bytes at a time. The scan (Sources/PrevirtMacros/SourceScan.swift) decides what a statement
 * needs; this only finds bytes and statements, so that most statements of compiler output cost a few
 * instructions.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef PV_BYTE_MARKS_H
#define PV_BYTE_MARKS_H

#include <stddef.h>
#include <stdint.h>

/* The first position at or after at of a '%' that starts a control, debug or segment register operand
 * in s[0..n): %crN, %drN, %dbN with a digit after, or %cs %ds %es %fs %gs %ss followed by neither a
 * byte of a word nor ':' (not a segment override), in any case; n when there is none. */
size_t pv_next_register_start(const uint8_t *s, size_t n, size_t at);

/* The statements of s[0..n) that may matter to the source scan. A statement ends at a newline, ';' or
 * '#' outside double quotes; a '#' starts a comment that runs to the end of the line; blanks (space,
 * tab) before a statement are skipped. A statement may matter when a ':' comes before its end (it may
 * start with labels) unless it is one label alone (a word of letters, digits, '_', '.' or '$', its
 * colon, then only blanks), when its first two bytes, each | 0x20, form a pair whose bit
 * (first | second << 8) is set in pairs (1024 words), or when it is one byte long.
 * Starting at *at, stores the start and end of each such statement in starts[i] and ends[i], up to
 * capacity of them; returns how many were stored and sets *at to where to go on (n when done). */
size_t pv_candidate_statements(const uint8_t *s, size_t n, const uint64_t *pairs, size_t *at, size_t *starts,
                               size_t *ends, size_t capacity);

#endif
