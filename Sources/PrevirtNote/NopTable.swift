// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the NOP encodings a site's padding is made of.

/// The NOP encodings the macro sets emit and the in-place VMM accepts as padding.
///
/// 32- and 64-bit code use the recommended multi-byte NOPs (`0f 1f /0`); 16-bit code uses only
/// `66 90` and `90`, because the ModRM forms of the long NOPs decode to other lengths there.
public enum NopTable {
    /// The single NOP instruction of `length` bytes (1...8) for 32- and 64-bit code.
    public static func bytes(_ length: Int) -> [UInt8] {
        switch length {
        case 1: return [0x90]
        case 2: return [0x66, 0x90]
        case 3: return [0x0f, 0x1f, 0x00]
        case 4: return [0x0f, 0x1f, 0x40, 0x00]
        case 5: return [0x0f, 0x1f, 0x44, 0x00, 0x00]
        case 6: return [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00]
        case 7: return [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00]
        case 8: return [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]
        default: preconditionFailure("NOP length \(length) is not 1...8")
        }
    }

    /// The padding of `count` bytes the macro sets emit in code of `modeBits` (16, 32 or 64).
    public static func padding(count: Int, modeBits: Int) -> [UInt8] {
        if modeBits == 16 {
            return Array([[UInt8]](repeating: [0x66, 0x90], count: count / 2).joined()) + (count % 2 == 1 ? [0x90] : [])
        }
        var out = Array([[UInt8]](repeating: bytes(8), count: count / 8).joined())
        if count % 8 != 0 { out += bytes(count % 8) }
        return out
    }
}

extension Array where Element == UInt8 {
    /// `0x0f,0x1f,0x00` for an `.byte` directive.
    public var hexList: String { map { "0x" + String($0, radix: 16) }.joined(separator: ",") }
}
