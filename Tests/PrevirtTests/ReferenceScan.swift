// SPDX-License-Identifier: GPL-3.0-or-later
// The tests' oracle for SourceScan: the scan as it was first written, byte by byte and statement by
// statement, with no first pass. SourceScan (one pass that hops between the bytes that end statements
// and passes most statements over on their first two bytes) must decide exactly as this does.

@testable import PrevirtMacros

enum ReferenceScan {
    /// Scans `source` (GNU-as syntax) against the spellings of `set`.
    ///
    /// A statement needs its mnemonic's macro when the mnemonic is always sensitive, or when it is an
    /// overloaded one (mov, push, pop and their suffixes) and its operands name a control, debug or
    /// segment register (not a segment override such as `%fs:40`). A prefix statement needs its prefix's
    /// macro when a sensitive mnemonic, or nothing, follows it.
    static func scan(_ source: UnsafeBufferPointer<UInt8>, for set: GNUAsMacroSet) -> SourceScan {
        var alwaysKeys: [UInt64] = []
        var overloadedKeys: [UInt64] = []
        for (_, spelling) in set.spellings {
            guard let key = SourceScan.key(spelling.mnemonic) else { continue }
            if case .registerOperand = spelling.classification {
                overloadedKeys.append(key)
            } else {
                alwaysKeys.append(key)
            }
        }
        let always = WordSet(alwaysKeys), overloaded = WordSet(overloadedKeys)
        let prefixes = WordSet(set.prefixes.compactMap(SourceScan.key))
        var result = SourceScan()
        var i = 0
        let n = source.count
        while i < n {
            // One statement: up to a newline or ';' (outside quotes), without its comment.
            var end = i
            var quoted = false
            while end < n {
                let c = source[end]
                if c == UInt8(ascii: "\"") { quoted.toggle() }
                if !quoted && (c == UInt8(ascii: "\n") || c == UInt8(ascii: ";") || c == UInt8(ascii: "#")) { break }
                end += 1
            }
            scanStatement(source, i, end, always: always, overloaded: overloaded, prefixes: prefixes, into: &result)
            if result.needsEverything { return result }
            // Skip a comment to the end of the line.
            if end < n && source[end] == UInt8(ascii: "#") {
                while end < n && source[end] != UInt8(ascii: "\n") { end += 1 }
            }
            i = end + 1
        }
        return result
    }

    private static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2e || c == 0x24
    }

    private static func skipBlanks(_ s: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ end: Int) {
        while i < end && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
    }

    /// The next word, lower-cased and packed (0 when empty, ~0 when longer than 8 bytes).
    private static func word(_ s: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ end: Int) -> UInt64 {
        var w: UInt64 = 0
        var count = 0
        while i < end && isWordByte(s[i]) {
            let c = s[i]
            if count < 8 { w |= UInt64(c >= 0x41 && c <= 0x5a ? c + 0x20 : c) << (8 * UInt64(count)) }
            count += 1
            i += 1
        }
        return count > 8 ? ~0 : w
    }

    /// Directives that make statements a scan cannot see (besides `.altmacro`, longer than a packed word).
    static let fallbackDirectiveNames = [".macro", ".include", ".irp", ".irpc"]
    private static let fallbackDirectives = WordSet(fallbackDirectiveNames.compactMap(SourceScan.key))

    /// Whether s[start..<end] is `.altmacro`, in any case.
    private static func isAltmacro(_ s: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        let name = Array(".altmacro".utf8)
        guard end - start == name.count else { return false }
        return (0..<name.count).allSatisfy { s[start + $0] | 0x20 == name[$0] | 0x20 }
    }
    private static let dot = UInt64(UInt8(ascii: "."))

    private static func scanStatement(
        _ s: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, always: WordSet, overloaded: WordSet,
        prefixes: WordSet, into result: inout SourceScan
    ) {
        var i = start
        skipBlanks(s, &i, end)
        var firstStart = i
        var first = word(s, &i, end)
        // Labels: `name:` (possibly several).
        while first != 0, i < end, s[i] == UInt8(ascii: ":") {
            i += 1
            skipBlanks(s, &i, end)
            firstStart = i
            first = word(s, &i, end)
        }
        if first == ~0, isAltmacro(s, firstStart, i) {
            result.needsEverything = true   // the one fallback directive longer than a packed word
            return
        }
        guard first != 0 else {
            // A statement that starts with something else: `\insn` inside a macro body is caught by
            // `.macro`; a pseudo-prefix `{...}` bypasses the macros anyway.
            return
        }
        if first & 0xff == dot {
            if fallbackDirectives.contains(first) { result.needsEverything = true }
            return
        }
        if prefixes.contains(first) {
            skipBlanks(s, &i, end)
            let next = word(s, &i, end)
            if next == 0 || always.contains(next) {
                result.needed.insert(SourceScanner.text(first))
                if next != 0 { result.needed.insert(SourceScanner.text(next)) }
            }
            return
        }
        if always.contains(first) {
            result.needed.insert(SourceScanner.text(first))
        } else if overloaded.contains(first), namesSpecialRegister(s, i, end) {
            result.needed.insert(SourceScanner.text(first))
        }
    }

    /// Whether s[i..<end] names %crN, %drN/%dbN or a segment register as an operand (not `%fs:`).
    private static func namesSpecialRegister(_ s: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        while i + 2 < end {
            if s[i] == UInt8(ascii: "%") {
                let a = s[i + 1] | 0x20, b = s[i + 2] | 0x20
                let after = i + 3 < end ? s[i + 3] : 0x20
                if (a == UInt8(ascii: "c") && b == UInt8(ascii: "r")) || (a == UInt8(ascii: "d") && (b == UInt8(ascii: "r") || b == UInt8(ascii: "b"))) {
                    if after >= 0x30 && after <= 0x39 { return true }
                }
                if b == UInt8(ascii: "s") && (a == 0x63 || a == 0x64 || a == 0x65 || a == 0x66 || a == 0x67 || a == 0x73) {
                    if !isWordByte(after) && after != UInt8(ascii: ":") { return true }
                }
            }
            i += 1
        }
        return false
    }
}
