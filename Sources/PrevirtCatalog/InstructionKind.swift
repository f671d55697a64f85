// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the instruction catalog's vocabulary.

/// The x86 code mode an instruction is assembled in.
public enum CodeMode: Int, Sendable, CaseIterable, Comparable, Codable {
    case bits16 = 16
    case bits32 = 32
    case bits64 = 64

    public static func < (lhs: CodeMode, rhs: CodeMode) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The `as` flag that selects this mode for a whole file (16-bit code is written with `.code16`).
    public var assemblerFlag: String { self == .bits64 ? "--64" : "--32" }
}

/// How the macro set decides that one statement of a spelling is sensitive.
public enum Classification: Sendable, Equatable {
    /// Every use of the mnemonic is sensitive (`cli`, `lgdt`, `ljmp`, ...).
    case always
    /// Sensitive only when one operand is one of `registers` (`mov %cr3,%rax`, `push %fs`).
    /// `position` says where the register stands: `.source` (first operand) or `.destination` (last).
    case registerOperand(RegisterClass, position: OperandPosition)
    /// Sensitive unless the whole operand is one of `exceptions` (`int` except the breakpoint `int $3`).
    case alwaysExcept([String])
}

public enum OperandPosition: String, Sendable { case source, destination, only }

/// The special registers that make a move, push or pop sensitive.
public enum RegisterClass: String, Sendable, CaseIterable {
    case control, debug, segment

    /// Every AT&T spelling GNU as 2.40 accepts for a register of this class.
    /// The flags a site takes when it loads `register`: loading `%ss` (`mov ...,%ss`, `pop %ss`) opens a
    /// one-instruction interrupt shadow, so its padding goes before the instruction, as for `sti`.
    public static func siteFlags(loading register: String) -> SiteFlags {
        register == "%ss" ? .paddingPrecedes : []
    }

    public var names: [String] {
        switch self {
        case .control: return (0...15).map { "%cr\($0)" }
        case .debug: return (0...15).map { "%db\($0)" } + (0...15).map { "%dr\($0)" }
        case .segment: return ["%es", "%cs", "%ss", "%ds", "%fs", "%gs"]
        }
    }
}

/// Facts about a site that the in-place VMM must know; stored in the note's flags byte.
public struct SiteFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The NOP padding comes before the instruction, not after it. Used where padding after the
    /// instruction would fall into its one-instruction interrupt shadow (`sti`, `mov ...,%ss`, `pop %ss`).
    public static let paddingPrecedes = SiteFlags(rawValue: 1 << 0)
    /// A prefix written as a separate statement (`rep; insb`) may stand immediately before the site.
    public static let prefixMayPrecede = SiteFlags(rawValue: 1 << 1)
    /// The instruction at the site starts with a prefix written on the same line (`rep insw`, `rex64 ljmp`).
    public static let prefixedInstruction = SiteFlags(rawValue: 1 << 2)

    public static let all: [(SiteFlags, String)] = [
        (.paddingPrecedes, "padding-precedes"),
        (.prefixMayPrecede, "prefix-may-precede"),
        (.prefixedInstruction, "prefixed-instruction"),
    ]

    public var names: [String] { Self.all.filter { contains($0.0) }.map(\.1) }
}

/// One operand form of a spelling, with sample operands to assemble it in each mode it exists in.
public struct OperandForm: Sendable {
    /// Human description, as in the manuals: `r32, CRn`, `m16&32`, `imm8, AL`.
    public var syntax: String
    /// Sample AT&T operand text per mode; a mode without a sample does not have this form.
    public var samples: [CodeMode: String]

    public init(_ syntax: String, _ samples: [CodeMode: String]) {
        self.syntax = syntax
        self.samples = samples
    }
}

/// One AT&T mnemonic of a kind (`pushfq`), the modes GNU as accepts it in, and its operand forms.
public struct Spelling: Sendable {
    public var mnemonic: String
    public var classification: Classification
    public var forms: [OperandForm]

    public init(_ mnemonic: String, _ classification: Classification = .always, forms: [OperandForm]) {
        self.mnemonic = mnemonic
        self.classification = classification
        self.forms = forms
    }

    /// The modes in which at least one form of this spelling exists.
    public var modes: [CodeMode] {
        CodeMode.allCases.filter { mode in forms.contains { $0.samples[mode] != nil } }
    }
}

/// A kind of sensitive instruction: the unit the note records and the in-place VMM emulates.
public struct InstructionKind: Sendable, Identifiable {
    /// Stable numeric id stored in every site note. Never reuse or renumber an id.
    public var id: UInt16
    /// Stable name, such as `mov-to-cr`.
    public var name: String
    /// One line on what the instruction does and why it is sensitive.
    public var summary: String
    /// Whether the `default` profile annotates this kind.
    public var inDefaultProfile: Bool
    /// Flags every site of this kind carries.
    public var flags: SiteFlags
    public var spellings: [Spelling]

    public init(
        id: UInt16, name: String, summary: String, inDefaultProfile: Bool = true,
        flags: SiteFlags = [], spellings: [Spelling]
    ) {
        self.id = id
        self.name = name
        self.summary = summary
        self.inDefaultProfile = inDefaultProfile
        self.flags = flags
        self.spellings = spellings
    }

    /// Every mnemonic of this kind.
    public var mnemonics: [String] { spellings.map(\.mnemonic) }
}
