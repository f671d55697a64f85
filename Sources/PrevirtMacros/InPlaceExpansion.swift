// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: a site's statement rewritten in place as the text its macro expands to, on the user's line.

import PrevirtCatalog

/// `previrt as`'s in-place route: each site statement the scan found is replaced by what its macro in
/// the set would expand to, written on the statement's own line with `;` between statements, so that
/// GNU as is handed no `.macro` at all. (From the first `.macro` on, gas looks every statement up as a
/// possible macro, which costs it about 4% on compiler output: Docs/benchmarks.md.)
///
/// The text comes from the macro set itself: this is a small expander of the set's own macros, as gas
/// would expand them (`\@` is a counter of expansions, a parameter is replaced by its argument, a line
/// that invokes one of the set's macros is replaced by that macro's body). It knows only the shapes the
/// set's always-sensitive mnemonics use: no parameter, or one that takes the rest of the line. Anything
/// else gives nil, and previrt as defines the macros instead.
///
/// ```swift
/// var expansion = InPlaceExpansion(set)           // set.selection: the mnemonics to expand
/// let bytes = expansion.expand("cpuid", operands: [])
/// ```
public struct InPlaceExpansion: Sendable {
    /// A macro of the set: its parameters (names without qualifiers) and body lines, as bytes.
    struct Macro: Sendable {
        var parameters: [[UInt8]]
        var takesRest: Bool
        var body: [Line]
    }

    /// A line of a macro body: a statement, or an invocation of another of the set's macros (decided
    /// once, by its first word, which in the set's text is never a parameter).
    enum Line: Sendable {
        case statement([UInt8])
        case invocation(name: [UInt8], argument: [UInt8])
    }

    private var macros: [[UInt8]: Macro] = [:]
    /// The set's statements outside its macros (`.set .L__pv_depth, 0`, ...), on one line: written
    /// before the first site of each rewritten input.
    public private(set) var prologue: [UInt8] = []
    /// The number gas would give `\@`: one per expansion, over all the inputs of one gas run, so that
    /// the sites' local labels stay unique.
    private var counter = 0

    /// The mnemonics whose sites can be written in place: those the set marks always sensitive with no
    /// exception (`int` is looked up in a table by its operand as gas scrubs it, which only gas knows).
    public static func expandable(_ set: GNUAsMacroSet) -> Set<String> {
        Set(set.spellings.filter { $0.1.classification == .always }.map(\.1.mnemonic))
    }

    /// Whether every site of `scan` can be written in place: no prefix statement, no overloaded or
    /// excepted mnemonic, and nothing that needs the macros themselves (user macros, `.include`, `.irp`,
    /// `.altmacro`; `previrt_off`/`previrt_on`; `.rept`, which would repeat one site's labels).
    public static func applies(to scan: SourceScan, _ set: GNUAsMacroSet) -> Bool {
        guard !scan.needsEverything, !scan.optsOut, !scan.repeats else { return false }
        let expandable = expandable(set)
        return scan.sites.allSatisfy { !$0.isPrefix && expandable.contains($0.mnemonic) }
    }

    /// The expander of `set`'s macros (for its selection), written for in-place use.
    public init(_ set: GNUAsMacroSet) {
        var inPlace = set
        inPlace.inPlace = true
        var prologue: [[UInt8]] = []
        var lines: [[UInt8]: [[UInt8]]] = [:]
        var current: (name: [UInt8], macro: Macro, lines: [[UInt8]])?
        for raw in Array(inPlace.text.utf8).split(separator: Byte.newline, omittingEmptySubsequences: true) {
            let line = Array(Byte.trimmed(raw))
            if line.isEmpty || line[0] == Byte.hash { continue }
            if line.starts(with: Array(".macro ".utf8)) {
                let words = Byte.trimmed(line.dropFirst(7))
                let name = Array(words.prefix { !Byte.isBlank($0) })
                var parameters = words.dropFirst(name.count).split(separator: Byte.comma).map { Array(Byte.trimmed($0)) }
                parameters.removeAll { $0.isEmpty }
                let takesRest = parameters.last.map { $0.count > 7 && Array($0.suffix(7)) == Array(":vararg".utf8) } ?? false
                let names = parameters.map { Array($0.prefix { $0 != Byte.colon }) }
                current = (Byte.lowercased(name), Macro(parameters: names, takesRest: takesRest, body: []), [])
            } else if line == Array(".endm".utf8) {
                if let c = current {
                    macros[c.name] = c.macro
                    lines[c.name] = c.lines
                }
                current = nil
            } else if current != nil {
                current!.lines.append(line)
            } else {
                prologue.append(line)
            }
        }
        for (name, body) in lines {
            macros[name]!.body = body.map { line in
                let first = line.prefix { !Byte.isBlank($0) }
                let called = Byte.lowercased(Array(first))
                guard lines[called] != nil else { return .statement(line) }
                return .invocation(name: called, argument: Array(Byte.trimmed(line.dropFirst(first.count))))
            }
        }
        self.prologue = Array(prologue.joined(separator: Byte.separator))
    }

    /// The statements `mnemonic operands` expands to, joined by `; `; nil for a shape this expander
    /// does not know.
    public mutating func expand(_ mnemonic: String, operands: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        guard invoke(Byte.lowercased(Array(mnemonic.utf8)), Array(Byte.trimmed(operands))[...], into: &out, depth: 0) else { return nil }
        return out
    }

    private mutating func invoke(_ name: [UInt8], _ argument: ArraySlice<UInt8>, into out: inout [UInt8], depth: Int) -> Bool {
        guard depth < 8, let macro = macros[name] else { return false }
        switch macro.parameters.count {
        case 0:
            guard argument.isEmpty else { return false }
        case 1:
            // One parameter takes the rest of the line: always so for `:vararg`, and for a plain one when
            // the argument has no blank or comma for gas to split at.
            guard macro.takesRest || !argument.contains(where: { Byte.isBlank($0) || $0 == Byte.comma }) else { return false }
        default:
            return false
        }
        let number = Array(String(counter).utf8)
        counter += 1
        for line in macro.body {
            switch line {
            case .statement(let template):
                if !out.isEmpty { out += Byte.separator }
                Self.substitute(template, macro.parameters.first, argument, number, into: &out)
            case .invocation(let name, let template):
                var called: [UInt8] = []
                Self.substitute(template, macro.parameters.first, argument, number, into: &called)
                guard invoke(name, called[...], into: &out, depth: depth + 1) else { return false }
            }
        }
        return true
    }

    /// `template` with `\@` replaced by `number` and `\parameter` by `argument`; any other backslash
    /// (`\0` in a string) is left as it is.
    static func substitute(
        _ template: [UInt8], _ parameter: [UInt8]?, _ argument: ArraySlice<UInt8>, _ number: [UInt8], into out: inout [UInt8]
    ) {
        var i = 0
        while i < template.count {
            // The bytes up to the next backslash, in one append (a body is mostly such runs).
            let run = template[i...].firstIndex(of: Byte.backslash) ?? template.count
            if run > i {
                out.append(contentsOf: template[i..<run])
                i = run
                continue
            }
            let c = template[i]
            i += 1
            guard i < template.count else {
                out.append(c)
                continue
            }
            if template[i] == Byte.at {
                out += number
                i += 1
                continue
            }
            // A parameter name: a letter or `_`, then letters, digits and `_`.
            var j = i
            if Byte.startsName(template[j]) {
                while j < template.count && Byte.continuesName(template[j]) { j += 1 }
            }
            if j > i, let p = parameter, template[i..<j].elementsEqual(p) {
                out += argument
                i = j
            } else {
                out.append(c)
            }
        }
    }
}

/// The bytes the expander reads and writes.
enum Byte {
    static let newline: UInt8 = 0x0a, hash: UInt8 = 0x23, comma: UInt8 = 0x2c, colon: UInt8 = 0x3a
    static let backslash: UInt8 = 0x5c, at: UInt8 = 0x40
    static let separator = Array("; ".utf8)

    static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    static func startsName(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a || c == 0x5f }
    static func continuesName(_ c: UInt8) -> Bool { startsName(c) || (c >= 0x30 && c <= 0x39) }
    static func lowercased(_ word: [UInt8]) -> [UInt8] { word.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 } }

    /// Without leading and trailing blanks.
    static func trimmed<C: BidirectionalCollection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        let from = bytes.firstIndex { !isBlank($0) } ?? bytes.endIndex
        var rest = bytes[from...]
        while let last = rest.last, isBlank(last) { rest = rest.dropLast() }
        return rest
    }
}

