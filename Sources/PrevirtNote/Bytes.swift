// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: little-endian helpers for the note encoder and decoder.

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Appends `text` as UTF-8, truncated to `width - 1` bytes and NUL padded to `width`.
    mutating func appendField(_ text: String, width: Int) {
        let bytes = Array(text.utf8.prefix(width - 1))
        append(contentsOf: bytes)
        append(contentsOf: repeatElement(0, count: width - bytes.count))
    }
}

extension ArraySlice where Element == UInt8 {
    func littleEndianUInt16(at i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }

    func littleEndianUInt32(at i: Int) -> UInt32 {
        UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24
    }

    /// A NUL-terminated (or full-width) text field.
    func field(at i: Int, width: Int) -> String {
        let raw = self[i..<(i + width)]
        let text = raw.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self)
    }
}
