/* pv_byte_marks.h: the bytes previrt as's source scan hops between, as one bit per byte, found 16 bytes
 * at a time, and the statements they delimit. The scan (Sources/PrevirtMacros/SourceScan.swift) decides
 * what a statement needs; this only finds bytes and statements, so that most statements of compiler
 * output cost a few instructions.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef PV_BYTE_MARKS_H
#define PV_BYTE_MARKS_H

#include <stddef.h>
#include <stdint.h>

/* For s[0..n): bit j of ends[k] is set when s[64k + j] is a newline, ';', '#', '"' or ':' (the bytes
 * that end a statement or matter to where it ends), and bit j of registers[k] when s[64k + j] is a '%'
 * followed by one of c d e f g s and then one of r b s, in any case (where a control, debug or segment
 * register can start). Both arrays must hold (n + 63) / 64 words; the bits past n are 0. */
void pv_mark_bytes(const uint8_t *s, size_t n, uint64_t *ends, uint64_t *registers);

/* The statements of s[0..n) that may matter to the source scan, found with ends (from pv_mark_bytes).
 * A statement ends at a newline, ';' or '#' outside double quotes; a '#' starts a comment that runs to
 * the end of the line; blanks (space, tab) before a statement are skipped. A statement may matter when a
 * ':' comes before its end (it may start with labels), or when its first two bytes, each | 0x20, form a
 * pair whose bit (first | second << 8) is set in pairs (1024 words), or when it is one byte long.
 * Starting at *at, stores the start and end of each such statement in starts[i] and ends_out[i], up to
 * capacity of them; returns how many were stored and sets *at to where to go on (n when done). */
size_t pv_candidate_statements(const uint8_t *s, size_t n, const uint64_t *ends, const uint64_t *pairs,
                               size_t *at, size_t *starts, size_t *ends_out, size_t capacity);

#endif
