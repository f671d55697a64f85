// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: which decoded instructions the catalog calls sensitive.

import PrevirtCatalog

/// A decoded instruction split into prefixes, mnemonic and operands, as libopcodes prints it in AT&T
/// syntax: `rep insb (%dx),%es:(%rdi)`, `rex.W ljmp *(%rax)`, `mov    %cr3,%rax`.
public struct DecodedText: Sendable, Equatable {
    public var prefixes: [String]
    public var mnemonic: String
    public var operands: [String]

    static let prefixWords: Set<String> = [
        "rep", "repz", "repe", "repnz", "repne", "lock", "data16", "data32", "addr16", "addr32",
        "cs", "ds", "es", "ss", "fs", "gs", "notrack", "bnd", "xacquire", "xrelease",
    ]

    public init(_ text: String) {
        // Drop a trailing comment (`# 0x1234 <sym>`), then split words.
        let body = text.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
        var words = body.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var prefixes: [String] = []
        while let first = words.first, words.count > 1, Self.prefixWords.contains(first) || first.hasPrefix("rex") || first.hasPrefix("{") {
            prefixes.append(first)
            words.removeFirst()
        }
        self.prefixes = prefixes
        mnemonic = words.first ?? ""
        operands = Self.splitOperands(words.dropFirst().joined())
    }

    /// Splits at commas outside parentheses: `%es:(%rdi,%rcx,4),%eax` is two operands.
    static func splitOperands(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var parts: [String] = []
        var depth = 0
        var current = ""
        for c in text {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }
}

/// Classifies decoded instructions by the catalog: the inspector's rules are generated from the same
/// table as the macro sets.
///
/// ```swift
/// let matcher = SensitiveMatcher(profile: try Profile.named("default"))
/// matcher.kind(of: DecodedText("mov    %cr3,%rax"))?.name   // "mov-from-cr"
/// ```
public struct SensitiveMatcher: Sendable {
    private let byMnemonic: [String: InstructionKind]
    private let exceptions: [String: Set<String>]
    /// Overloaded mnemonics (mov, push, pop and their suffixes) and the operand rules of their kinds.
    private let registerKinds: [String: [(RegisterClass, OperandPosition, InstructionKind)]]

    public init(profile: Profile) {
        var byMnemonic: [String: InstructionKind] = [:]
        var exceptions: [String: Set<String>] = [:]
        var registerKinds: [String: [(RegisterClass, OperandPosition, InstructionKind)]] = [:]
        for kind in profile.kinds {
            for spelling in kind.spellings {
                switch spelling.classification {
                case .always:
                    byMnemonic[spelling.mnemonic] = kind
                case .alwaysExcept(let e):
                    byMnemonic[spelling.mnemonic] = kind
                    // libopcodes prints immediates in hex: `int $0x3`.
                    exceptions[spelling.mnemonic, default: []].formUnion(e + e.map(Self.hexImmediate))
                case .registerOperand(let cls, let position):
                    registerKinds[spelling.mnemonic, default: []].append((cls, position, kind))
                }
            }
        }
        self.byMnemonic = byMnemonic
        self.exceptions = exceptions
        self.registerKinds = registerKinds
    }

    /// The kind of a decoded instruction, or nil when the catalog (in this profile) does not call it sensitive.
    public func kind(of decoded: DecodedText) -> InstructionKind? {
        let m = decoded.mnemonic
        if let kind = byMnemonic[m] {
            if let e = exceptions[m], let operand = decoded.operands.first, e.contains(operand) { return nil }
            return kind
        }
        guard let rules = registerKinds[m] ?? registerKinds[String(m.dropLast())] else { return nil }
        for (cls, position, kind) in rules {
            switch position {
            case .only where decoded.operands.count == 1 && Self.isRegister(decoded.operands[0], cls):
                return kind
            case .source where decoded.operands.count == 2 && Self.isRegister(decoded.operands[0], cls):
                return kind
            case .destination where decoded.operands.count == 2 && Self.isRegister(decoded.operands[1], cls):
                return kind
            default:
                continue
            }
        }
        return nil
    }

    public func kind(ofText text: String) -> InstructionKind? { kind(of: DecodedText(text)) }

    static func isRegister(_ operand: String, _ cls: RegisterClass) -> Bool {
        switch cls {
        case .segment: return RegisterClass.segment.names.contains(operand)
        case .control: return operand.hasPrefix("%cr") && operand.dropFirst(3).allSatisfy(\.isNumber)
        case .debug: return (operand.hasPrefix("%db") || operand.hasPrefix("%dr")) && operand.dropFirst(3).allSatisfy(\.isNumber)
        }
    }

    static func hexImmediate(_ immediate: String) -> String {
        guard immediate.hasPrefix("$"), let n = Int(immediate.dropFirst()) else { return immediate }
        return "$0x" + String(n, radix: 16)
    }
}
