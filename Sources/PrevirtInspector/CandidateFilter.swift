// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: a byte-level pre-filter that spares the text matcher almost every instruction.

import PrevirtCatalog

/// Says whether an instruction's bytes could belong to a sensitive instruction, from the catalog's
/// encodings (`Encodings.swift`): the opcode in its map, then the ModRM rule when the byte is there.
/// It errs on the side of yes (modes and operand details are left to the matcher, which reads
/// libopcodes' text and decides).
public enum CandidateFilter {
    private static let legacyPrefixes: Set<UInt8> = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]

    /// The encodings per opcode map (one-byte, 0f, 0f 38) and opcode.
    private static let byOpcode: [[[Encoding]]] = {
        var table = Array(repeating: Array(repeating: [Encoding](), count: 256), count: 3)
        for (_, encoding) in Catalog.encodings {
            table[Int(encoding.map.rawValue)][Int(encoding.opcode)].append(encoding)
        }
        return table
    }()

    /// Whether the instruction of `length` bytes at `offset` could be sensitive in code of `modeBits`.
    public static func mightBeSensitive(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int, _ length: Int, modeBits: Int) -> Bool {
        var i = offset
        let end = min(bytes.count, offset + length)
        while i < end, legacyPrefixes.contains(bytes[i]) || (modeBits == 64 && bytes[i] & 0xf0 == 0x40) { i += 1 }
        guard i < end else { return false }
        var map = Encoding.OpcodeMap.oneByte
        if bytes[i] == 0x0f {
            guard i + 1 < end else { return false }
            map = .twoByte
            i += 1
            if bytes[i] == 0x38 {
                guard i + 1 < end else { return false }
                map = .threeByte38
                i += 1
            }
        }
        let candidates = byOpcode[Int(map.rawValue)][Int(bytes[i])]
        let modrm: UInt8? = i + 1 < end ? bytes[i + 1] : nil
        return candidates.contains { encoding in
            guard let m = modrm else { return true }
            // Without a ModRM byte, the byte after the opcode is the immediate.
            return encoding.modrm == .none ? encoding.excludedImmediate != m : encoding.modrm.accepts(m)
        }
    }
}
