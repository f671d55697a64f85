// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: which macros an assembly source needs, and where its sites are, found by one pass over its bytes.

import CByteMarks

/// Packed words (see `SourceScan.key`), each with a small nonzero value, looked up with a cheap
/// multiplicative hash and open addressing: the scan looks up one word per statement, hundreds of
/// thousands of times per file (Swift's Dictionary hashes with SipHash, which costs more than the
/// statement).
struct WordSet {
    private var slots: [(word: UInt64, value: UInt8)]
    private let shift: UInt64

    /// Each word with value 1.
    init<S: Sequence>(_ words: S) where S.Element == UInt64 {
        self.init(values: words.map { ($0, 1) })
    }

    /// Each word with its value; of two entries for one word, the first wins. Zero words and values are left out.
    init(values entries: [(UInt64, UInt8)]) {
        var bits: UInt64 = 6
        while (1 << bits) < entries.count * 4 { bits += 1 }
        slots = Array(repeating: (0, 0), count: 1 << bits)
        shift = 64 - bits
        for (w, value) in entries where w != 0 && value != 0 {
            var i = Self.index(w, shift)
            while slots[i].word != 0 && slots[i].word != w { i = (i + 1) & (slots.count - 1) }
            if slots[i].word == 0 { slots[i] = (w, value) }
        }
    }

    @inline(__always)
    private static func index(_ w: UInt64, _ shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (w &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    func contains(_ w: UInt64) -> Bool { value(w) != 0 }

    /// The value of `w`, 0 when it is not there.
    func value(_ w: UInt64) -> UInt8 {
        slots.withUnsafeBufferPointer { Self.value(w, in: $0, shift) }
    }

    /// The lookup itself, over slots the caller holds (the scan takes them once per source).
    @inline(__always)
    static func value(_ w: UInt64, in slots: UnsafeBufferPointer<(word: UInt64, value: UInt8)>, _ shift: UInt64) -> UInt8 {
        guard w != 0 else { return 0 }
        let mask = slots.count - 1
        var i = index(w, shift)
        while true {
            let slot = slots[i]
            if slot.word == w { return slot.value }
            if slot.word == 0 { return 0 }
            i = (i + 1) & mask
        }
    }

    func withSlots<R>(_ body: (UnsafeBufferPointer<(word: UInt64, value: UInt8)>, UInt64) -> R) -> R {
        slots.withUnsafeBufferPointer { body($0, shift) }
    }
}

/// The result of scanning an assembly source for what the macro set must see.
public struct SourceScan: Sendable, Equatable {
    /// Mnemonics and prefixes whose macros the source needs.
    public var needed: Set<String> = []
    /// The source can produce statements a scan cannot see (user macros, `.include`, `.irp`):
    /// it needs the whole macro set.
    public var needsEverything = false
    /// The source uses `previrt_off` or `previrt_on`, which only the macro set defines.
    public var optsOut = false
    /// The source has `.rept`: a statement in it may be assembled more than once.
    public var repeats = false
    /// The statements that made something needed, in source order (incomplete once `needsEverything`).
    public var sites: [Site] = []

    /// One statement that needs a macro: byte offsets into the scanned source.
    public struct Site: Sendable, Equatable {
        /// Where the mnemonic (or the prefix) starts, after any labels.
        public var start: Int
        /// Just after the mnemonic (or the prefix): where its operands (or the prefixed mnemonic) start.
        public var operands: Int
        /// Where the statement ends: its newline, `;` or comment, or the end of the source.
        public var end: Int
        /// The mnemonic or prefix, in lower case.
        public var mnemonic: String
        /// A prefix statement (`rep insb`, or a bare `rep`).
        public var isPrefix: Bool
    }

    public init(needed: Set<String> = [], needsEverything: Bool = false) {
        self.needed = needed
        self.needsEverything = needsEverything
    }

    /// The selection to generate: nil for the whole set.
    public var selection: Set<String>? { needsEverything ? nil : needed }

    /// Scans `source` (GNU-as syntax) against the spellings of `set`: `SourceScanner` built for one use.
    public static func scan(_ source: UnsafeBufferPointer<UInt8>, for set: GNUAsMacroSet) -> SourceScan {
        SourceScanner(set).scan(source)
    }

    /// A word of up to 8 bytes, packed into an integer, first byte lowest: no allocation per statement.
    /// Longer words get nil: no mnemonic or directive of interest is longer.
    public static func key(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard bytes.count <= 8 else { return nil }
        return bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// Directives that make statements a scan cannot see (besides `.altmacro`, longer than a packed word).
    public static let fallbackDirectiveNames = [".macro", ".include", ".irp", ".irpc"]
    /// Words longer than a packed word that the scan must notice, in lower case.
    static let longWords = (altmacro: Array(".altmacro".utf8), off: Array("previrt_off".utf8), on: Array("previrt_on".utf8))
}

/// SourceScan's tables for one macro set, built once; `scan` reads a source in one pass.
///
/// A statement ends at a newline, `;` or `#` outside double quotes (a `#` starts a comment that runs to
/// the end of the line). Its first word after any labels (`name:`) decides:
/// - an always-sensitive mnemonic needs its macro;
/// - an overloaded one (mov, push, pop and their suffixes) needs its macro when its operands name a
///   control, debug or segment register (not a segment override such as `%fs:40`);
/// - a prefix needs its macro when a sensitive mnemonic, or nothing, follows it;
/// - `.macro`, `.include`, `.irp`, `.irpc` and `.altmacro` need the whole set; `.rept` and
///   `previrt_off`/`previrt_on` are noted.
/// No state is carried from one statement to the next.
///
/// Compiler output is mostly statements of no interest (`movq %rax, %rbx`, `.cfi_offset 6, -16`): the
/// statements are walked in C (`pv_candidate_statements`, Sources/CByteMarks), which finds their ends
/// sixteen bytes at a time and passes over those whose first two bytes start no word of interest (and
/// that have no `:`, so no label); mov, push and pop are passed over too when no `%` in the whole source
/// starts a special register. The statements left are decided here, their first word looked up once.
public struct SourceScanner: Sendable {
    /// What a first word is: the values of `words`.
    private enum Role: UInt8 { case always = 1, overloaded, prefix, fallback, repeats }
    private let words: WordSet
    private let always: WordSet
    /// One bit per pair of bytes (each | 0x20) that a word of interest starts with: most statements
    /// are passed over on their first two bytes, without their first word being read.
    private let firstPairs: [UInt64]
    /// The same without the overloaded mnemonics: for a source in which no operand names a special
    /// register, which `mentionsSpecialRegister` finds in one pass over it.
    private let firstPairsNoOverloaded: [UInt64]

    public init(_ set: GNUAsMacroSet) {
        var alwaysKeys: [UInt64] = [], overloadedKeys: [UInt64] = []
        for (_, spelling) in set.spellings {
            guard let key = Self.tableKey(spelling.mnemonic) else { continue }
            if case .registerOperand = spelling.classification { overloadedKeys.append(key) } else { alwaysKeys.append(key) }
        }
        // A word in several roles takes the first: a prefix, then always sensitive, then overloaded.
        var entries = set.prefixes.compactMap(Self.tableKey).map { ($0, Role.prefix.rawValue) }
        entries += alwaysKeys.map { ($0, Role.always.rawValue) } + overloadedKeys.map { ($0, Role.overloaded.rawValue) }
        entries += SourceScan.fallbackDirectiveNames.compactMap(Self.tableKey).map { ($0, Role.fallback.rawValue) }
        entries += [(Self.tableKey(".rept")!, Role.repeats.rawValue)]
        words = WordSet(values: entries)
        always = WordSet(alwaysKeys)
        let long = SourceScan.longWords
        func pairs(_ words: [[UInt8]]) -> [UInt64] {
            var bits = [UInt64](repeating: 0, count: 1024)
            for word in words + [long.altmacro, long.off, long.on] {
                // A one-byte word is followed by any byte.
                for second in word.count > 1 ? word[1]...word[1] : 0...255 {
                    let pair = Int(word[0] | 0x20) | Int(second | 0x20) << 8
                    bits[pair >> 6] |= 1 << UInt64(pair & 63)
                }
            }
            return bits
        }
        firstPairs = pairs(entries.map { Self.bytes($0.0) })
        firstPairsNoOverloaded = pairs(entries.filter { $0.1 != Role.overloaded.rawValue }.map { Self.bytes($0.0) })
    }

    private static func bytes(_ key: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var k = key
        while k != 0 {
            bytes.append(UInt8(k & 0xff))
            k >>= 8
        }
        return bytes
    }

    /// The packed key of a word as the scan computes it from the source (every byte | 0x20), or nil.
    /// The words of the tables are letters, digits and dots, for which that is lower case.
    private static func tableKey(_ word: String) -> UInt64? {
        // ASCII lower case by hand: String.lowercased() is Unicode's, and costs more than the rest of
        // building the tables at every start.
        var key: UInt64 = 0, shift: UInt64 = 0
        for c in word.utf8 {
            precondition(c != 0x5f, "a table word with `_` would not match the scan's keys")
            guard shift < 64 else { return nil }
            key |= UInt64(c >= 0x41 && c <= 0x5a ? c + 0x20 : c) << shift
            shift += 8
        }
        return key
    }

    /// Byte classes: 1 ends a statement or starts a quote (newline, `;`, `#`, `"`), 0 is any other byte
    /// that is not part of a word; a word byte (letter, digit, `_`, `.`, `$`) maps to itself, lower-cased.
    private static let classes: [UInt8] = (0..<256).map { c in
        switch UInt8(c) {
        case 0x0a, 0x3b, 0x23, 0x22: return 1
        case 0x41...0x5a: return UInt8(c) + 0x20
        case 0x61...0x7a, 0x30...0x39, 0x5f, 0x2e, 0x24: return UInt8(c)
        default: return 0
        }
    }

    public func scan(_ source: UnsafeBufferPointer<UInt8>) -> SourceScan {
        var result = SourceScan()
        guard let s = source.baseAddress, source.count > 0 else { return result }
        let n = source.count
        // When no `%` starts a special register, no mov, push or pop is sensitive.
        let pairs = Self.mentionsSpecialRegister(s, n) ? firstPairs : firstPairsNoOverloaded
        Self.classes.withUnsafeBufferPointer { table in
            pairs.withUnsafeBufferPointer { pairs in
                words.withSlots { slots, shift in
                    let cls = table.baseAddress!
                    // The statements that may matter (labels, or first bytes of interest), a batch at a time.
                    let capacity = 4096
                    let starts = UnsafeMutablePointer<Int>.allocate(capacity: capacity), ends = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
                    defer { starts.deallocate(); ends.deallocate() }
                    var at = 0
                    while at < n {
                        let found = pv_candidate_statements(s, n, pairs.baseAddress!, &at, starts, ends, capacity)
                        for k in 0..<found {
                            decide(s, starts[k], ends[k], cls, slots, shift, &result)
                            if result.needsEverything { return }
                        }
                    }
                }
            }
        }
        return result
    }

    /// The word at `i` packed (`SourceScan.key` of its bytes | 0x20), `~0` when longer than 8 bytes, 0
    /// when there is none; `i` moves past it.
    @inline(__always)
    private static func word(_ s: UnsafePointer<UInt8>, _ i: inout Int, _ n: Int, _ cls: UnsafePointer<UInt8>) -> UInt64 {
        let start = i
        while i < n && cls[Int(s[i])] > 1 { i += 1 }
        let count = i - start
        if count == 0 { return 0 }
        if count > 8 { return ~0 }
        if start + 8 <= n {
            let raw = UnsafeRawPointer(s + start).loadUnaligned(as: UInt64.self)
            let mask: UInt64 = count == 8 ? ~0 : (1 << UInt64(8 * count)) - 1
            return (raw | 0x2020_2020_2020_2020) & mask
        }
        var key: UInt64 = 0
        for k in 0..<count { key |= UInt64(s[start + k] | 0x20) << UInt64(8 * k) }
        return key
    }

    /// What the statement s[from..<end] (blanks skipped) needs: its first word after any labels decides.
    @inline(never)
    private func decide(
        _ s: UnsafePointer<UInt8>, _ from: Int, _ end: Int, _ cls: UnsafePointer<UInt8>,
        _ slots: UnsafeBufferPointer<(word: UInt64, value: UInt8)>, _ shift: UInt64, _ result: inout SourceScan
    ) {
        var i = from
        var start = i
        var key = Self.word(s, &i, end, cls)
        while key != 0 && i < end && s[i] == 0x3a {
            i += 1
            while i < end && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
            start = i
            key = Self.word(s, &i, end, cls)
        }
        let operands = i
        if key == 0 { return }
        if key == ~0 {
            let long = SourceScan.longWords
            if Self.equals(s, start, operands, long.altmacro, cls) { result.needsEverything = true }
            if Self.equals(s, start, operands, long.off, cls) || Self.equals(s, start, operands, long.on, cls) { result.optsOut = true }
            return
        }
        switch Role(rawValue: WordSet.value(key, in: slots, shift)) {
        case nil:
            return
        case .fallback:
            result.needsEverything = true
        case .repeats:
            result.repeats = true
        case .always:
            result.record(Self.text(key), start, operands, end, isPrefix: false)
        case .overloaded:
            if Self.namesSpecialRegister(s, operands, end) { result.record(Self.text(key), start, operands, end, isPrefix: false) }
        case .prefix:
            var i = operands
            while i < end && (s[i] == 0x20 || s[i] == 0x09) { i += 1 }
            let next = Self.word(s, &i, end, cls)
            guard next == 0 || (next != ~0 && always.contains(next)) else { return }
            result.record(Self.text(key), start, operands, end, isPrefix: true)
            if next != 0 { result.needed.insert(Self.text(next)) }
        }
    }

    /// Whether s[start..<end] is `word` (lower case), in any case.
    private static func equals(_ s: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ word: [UInt8], _ cls: UnsafePointer<UInt8>) -> Bool {
        guard end - start == word.count else { return false }
        return (0..<word.count).allSatisfy { cls[Int(s[start + $0])] == word[$0] }
    }

    /// The word a packed key holds (the inverse of `SourceScan.key`).
    static func text(_ key: UInt64) -> String {
        var bytes: [UInt8] = []
        var k = key
        while k != 0 {
            bytes.append(UInt8(k & 0xff))
            k >>= 8
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2e || c == 0x24
    }

    /// Whether any `%` in s[0..<n] starts a special register as `namesSpecialRegister` reads one: when
    /// none does, no mov, push or pop in the source is sensitive, and the scan passes them over on their
    /// first bytes. (Within a statement, the byte after the name may be the statement's end, never a word
    /// byte or `:`; so a statement names one only if this finds one.)
    private static func mentionsSpecialRegister(_ s: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = pv_next_register_start(s, n, 0)
        while i < n {
            if isSpecialRegister(s, i, n) { return true }
            i = pv_next_register_start(s, n, i + 1)
        }
        return false
    }

    /// Whether s[start..<end] names %crN, %drN/%dbN or a segment register as an operand (not `%fs:`).
    private static func namesSpecialRegister(_ s: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        while i + 2 < end {
            if s[i] == 0x25 && isSpecialRegister(s, i, end) { return true }
            i += 1
        }
        return false
    }

    /// Whether the `%` at s[i] starts %crN, %drN, %dbN, or %cs, %ds, %es, %fs, %gs, %ss not followed by
    /// a word byte or `:`, in s[..<end].
    @inline(__always)
    private static func isSpecialRegister(_ s: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Bool {
        guard i + 2 < end else { return false }
        let a = s[i + 1] | 0x20, b = s[i + 2] | 0x20
        let after = i + 3 < end ? s[i + 3] : 0x20
        if (a == 0x63 && b == 0x72) || (a == 0x64 && (b == 0x72 || b == 0x62)) {
            return after >= 0x30 && after <= 0x39
        }
        if b == 0x73 && (a == 0x63 || a == 0x64 || a == 0x65 || a == 0x66 || a == 0x67 || a == 0x73) {
            return !isWordByte(after) && after != 0x3a
        }
        return false
    }
}

extension SourceScan {
    fileprivate mutating func record(_ mnemonic: String, _ start: Int, _ operands: Int, _ end: Int, isPrefix: Bool) {
        needed.insert(mnemonic)
        sites.append(Site(start: start, operands: operands, end: end, mnemonic: mnemonic, isPrefix: isPrefix))
    }
}
