// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: a byte-level pre-filter that spares the text matcher almost every instruction.

/// Says whether an instruction's opcode bytes could belong to a sensitive instruction. It errs on the
/// side of yes (a superset of the catalog), so the matcher, which reads libopcodes' text, decides.
enum CandidateFilter {
    private static let legacyPrefixes: Set<UInt8> = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]
    private static let oneByte: Set<UInt8> = [
        0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x63, 0x6c, 0x6d, 0x6e, 0x6f, 0x8c, 0x8e, 0x9a, 0x9c, 0x9d,
        0xc4, 0xc5, 0xca, 0xcb, 0xcd, 0xcf, 0xe4, 0xe5, 0xe6, 0xe7, 0xea, 0xec, 0xed, 0xee, 0xef, 0xf4, 0xfa, 0xfb,
    ]
    private static let twoByte: Set<UInt8> = [
        0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x20, 0x21, 0x22, 0x23, 0x30, 0x31, 0x32, 0x33, 0x34,
        0x35, 0x38, 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa, 0xb2, 0xb4, 0xb5,
    ]

    static func mightBeSensitive(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int, _ length: Int, modeBits: Int) -> Bool {
        var i = offset
        let end = min(bytes.count, offset + length)
        while i < end, legacyPrefixes.contains(bytes[i]) || (modeBits == 64 && bytes[i] & 0xf0 == 0x40) { i += 1 }
        guard i < end else { return false }
        let op = bytes[i]
        if oneByte.contains(op) { return true }
        if op == 0xff, i + 1 < end {
            let reg = (bytes[i + 1] >> 3) & 7
            return reg == 3 || reg == 5
        }
        if op == 0x0f, i + 1 < end { return twoByte.contains(bytes[i + 1]) }
        return false
    }
}
