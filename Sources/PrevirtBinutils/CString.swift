// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: C strings from libbfd into Swift strings.

extension String {
    /// The text of a NUL-terminated C string (nil pointers give "").
    init(cText pointer: UnsafePointer<CChar>?) {
        self = pointer.map { String(cString: $0) } ?? ""
    }

    /// The text of a NUL-terminated buffer.
    init(cBuffer chars: [CChar]) {
        self = String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
