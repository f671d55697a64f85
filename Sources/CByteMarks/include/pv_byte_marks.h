/* pv_byte_marks.h: the bytes previrt as's source scan hops between, as one bit per byte, found 16 bytes
 * at a time. The scan (Sources/PrevirtMacros/SourceScan.swift) decides; this only finds bytes.
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

#endif
