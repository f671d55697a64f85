// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: a fast first pass that hands SourceScan only the statements that can matter to it.

import PrevirtCatalog
import PrevirtMacros

/// SourceScan decides what a source needs statement by statement, with no state carried from one
/// statement to the next: so scanning only the statements that can matter gives exactly the result of
/// scanning them all. Compiler output is mostly statements that cannot matter (`movq %rax, %rbx`,
/// `.cfi_offset 6, -16`); this pass finds them with a byte table and a packed first word, and copies
/// the others, unchanged, one per line, for SourceScan to decide.
///
/// A statement is kept (conservatively) when its first word after any labels (`name:`)
/// - is 9 bytes long (`.altmacro`, the one fallback directive longer than a packed word),
/// - is one of SourceScan's fallback directives (`.macro`, `.include`, `.irp`, `.irpc`),
/// - is a mnemonic or a prefix of the set, except an overloaded one (mov, push, pop) whose operands
///   name no register that could be a control, debug or segment register (`%` then c, d, e, f, g or s,
///   then r, b or s).
/// SourceScan splits statements as this pass does: at a newline, `;` or `#` outside double quotes.
struct StatementFilter {
    /// The mnemonics and prefixes of the set: 1 for one that is always sensitive (or a prefix), 2 for an
    /// overloaded one (sensitive only with a special register).
    private let mnemonics: PackedWords

    static let fallbackDirectives = PackedWords(SourceScan.fallbackDirectiveNames.compactMap(packed).map { ($0, 1) })

    init(_ set: GNUAsMacroSet) {
        var always: Set<UInt64> = [], overloaded: Set<UInt64> = []
        for (_, spelling) in set.spellings {
            guard let key = Self.packed(spelling.mnemonic) else { continue }
            if case .registerOperand = spelling.classification { overloaded.insert(key) } else { always.insert(key) }
        }
        for prefix in set.prefixes { if let key = Self.packed(prefix) { always.insert(key) } }
        // Always first: a word SourceScan finds in both sets is always sensitive.
        mnemonics = PackedWords(always.map { ($0, 1) } + overloaded.subtracting(always).map { ($0, 2) })
    }

    /// A word of up to 8 bytes, lower-cased, packed as SourceScan packs it.
    static func packed(_ word: String) -> UInt64? {
        SourceScan.key(word.lowercased())
    }

    /// Byte classes: 1 ends a statement or starts a quote (newline, `;`, `#`, `"`), 0 is any other byte
    /// that is not part of a word; a word byte maps to itself, lower-cased.
    private static let classes: [UInt8] = (0..<256).map { c in
        switch UInt8(c) {
        case 0x0a, 0x3b, 0x23, 0x22: return 1
        case 0x41...0x5a: return UInt8(c) + 0x20
        case 0x61...0x7a, 0x30...0x39, 0x5f, 0x2e, 0x24: return UInt8(c)
        default: return 0
        }
    }

    /// The statements of `source` that can matter to SourceScan, each followed by a newline.
    func candidates(_ source: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        guard let s = source.baseAddress else { return out }
        let n = source.count
        Self.classes.withUnsafeBufferPointer { table in
            let cls = table.baseAddress!
            var i = 0
            while i < n {
                let start = i
                // The first word: blanks, then word bytes, lower-cased and packed.
                while i < n && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
                var word: UInt64 = 0
                var shift: UInt64 = 0
                let wordStart = i
                while i < n {
                    let c = cls[Int(s[i])]
                    guard c > 1 else { break }
                    if shift < 64 { word |= UInt64(c) << shift }
                    shift += 8
                    i += 1
                }
                let count = i - wordStart
                let operands = i
                // The end of the statement: a newline, `;` or `#` outside double quotes.
                var quoted = false
                var end = i
                while true {
                    // Eight bytes at a time to the first newline, `;`, `#` or `"`; byte by byte near the end.
                    while end + 8 <= n {
                        let found = Self.specialBytes(UnsafeRawPointer(s + end).loadUnaligned(as: UInt64.self))
                        if found != 0 {
                            end += found.trailingZeroBitCount >> 3
                            break
                        }
                        end += 8
                    }
                    while end < n && cls[Int(s[end])] != 1 { end += 1 }
                    guard end < n else { break }
                    if s[end] == 0x22 {
                        quoted.toggle()
                    } else if !quoted {
                        break
                    }
                    end += 1
                }
                if count > 0 && keep(word, count: count, s, operands, end, cls) {
                    out.append(contentsOf: UnsafeBufferPointer(start: s + start, count: end - start))
                    out.append(0x0a)
                }
                // A comment runs to the end of the line.
                if end < n && s[end] == 0x23 {
                    while end < n && s[end] != 0x0a { end += 1 }
                }
                i = end + 1
            }
        }
        return out
    }

    /// The top bit of each of the eight bytes of `v` (little-endian) that is a newline, `;`, `#` or `"`,
    /// exact up to the first such byte, 0 when there is none: a byte equal to the target is 0 after the
    /// xor, and subtracting 1 borrows into its top bit. (A borrow can mark a byte above a real match,
    /// never one below it, so the lowest mark is the first match.)
    @inline(__always)
    private static func specialBytes(_ v: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func zero(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        return zero(v ^ (ones &* 0x0a)) | zero(v ^ (ones &* 0x3b)) | zero(v ^ (ones &* 0x23)) | zero(v ^ (ones &* 0x22))
    }

    private func keep(
        _ first: UInt64, count firstCount: Int, _ s: UnsafePointer<UInt8>, _ afterFirst: Int, _ end: Int,
        _ cls: UnsafePointer<UInt8>
    ) -> Bool {
        var word = first, count = firstCount, operands = afterFirst
        // Labels (`name:`, possibly several): the statement is what follows them, as SourceScan reads it.
        while operands < end && s[operands] == 0x3a {
            operands += 1
            while operands < end && (s[operands] == 0x20 || s[operands] == 0x09) { operands += 1 }
            word = 0
            var shift: UInt64 = 0
            let start = operands
            while operands < end {
                let c = cls[Int(s[operands])]
                guard c > 1 else { break }
                if shift < 64 { word |= UInt64(c) << shift }
                shift += 8
                operands += 1
            }
            count = operands - start
            if count == 0 { return false }
        }
        if count > 8 { return count == 9 }                          // .altmacro
        if word & 0xff == 0x2e { return Self.fallbackDirectives.value(word) != 0 }
        switch mnemonics.value(word) {
        case 0: return false
        case 1: return true
        default: break
        }
        var i = operands
        while i + 2 < end {
            if s[i] == 0x25 {
                let a = s[i + 1] | 0x20, b = s[i + 2] | 0x20
                if (a == 0x63 || a == 0x64 || a == 0x65 || a == 0x66 || a == 0x67 || a == 0x73)
                    && (b == 0x72 || b == 0x62 || b == 0x73) { return true }
            }
            i += 1
        }
        return false
    }
}

/// Nonzero packed words, each with a nonzero value, looked up once per statement: open addressing with
/// a multiplicative hash (Swift's Dictionary hashes with SipHash, which costs more than the statement).
struct PackedWords {
    private var slots: [(word: UInt64, value: UInt8)]
    private let shift: UInt64

    init(_ entries: [(UInt64, UInt8)]) {
        var bits: UInt64 = 6
        while (1 << bits) < entries.count * 4 { bits += 1 }
        slots = Array(repeating: (0, 0), count: 1 << bits)
        shift = 64 - bits
        for (w, value) in entries where w != 0 && value != 0 {
            var i = index(w)
            while slots[i].word != 0 && slots[i].word != w { i = (i + 1) & (slots.count - 1) }
            if slots[i].word == 0 { slots[i] = (w, value) }
        }
    }

    private func index(_ w: UInt64) -> Int { Int(truncatingIfNeeded: (w &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The value of `w`, 0 when it is not there.
    func value(_ w: UInt64) -> UInt8 {
        guard w != 0 else { return 0 }
        return slots.withUnsafeBufferPointer { slots in
            var i = index(w)
            while true {
                if slots[i].word == w { return slots[i].value }
                if slots[i].word == 0 { return 0 }
                i = (i + 1) & (slots.count - 1)
            }
        }
    }
}
