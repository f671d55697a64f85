// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: generate the GNU-as macro include file from the catalog.
//
// The generated file's own licence is MIT (it is assembled into guest kernels); see its header.
// How the file works, and why each trick is there, is explained in Docs/macro-sets.md; the macro bodies
// are templates in the files named for their concern, in the order the set is written:
//   MacroSet+OptOut.swift          previrt_off / previrt_on
//   MacroSet+Site.swift            __pv_header, __pv_mode, __pv_nops, __pv_site (recording one site)
//   MacroSet+OperandTables.swift   the classification tables (quoted local symbols)
//   MacroSet+Mnemonics.swift       one macro per always-sensitive spelling, and the prefixes
//   MacroSet+Overloaded.swift      mov, push, pop and their suffixes, __pv_hit, __pv_segmem

import PrevirtCatalog
import PrevirtNote

/// A GNU-as macro set: the text of `previrt-<arch>.s`.
///
/// ```swift
/// let text = try GNUAsMacroSet(architecture: .x86_64, profile: Profile.named("default")).text
/// ```
public struct GNUAsMacroSet: Sendable {
    public var architecture: Architecture { didSet { fullSpellings = Self.spellings(architecture, profile) } }
    public var profile: Profile { didSet { fullSpellings = Self.spellings(architecture, profile) } }
    /// The command line recorded in the file's header comment.
    public var commandLine: String
    /// When set, only the macros of these mnemonics and prefixes are written (`previrt as` passes
    /// what its scan of the input found); nil writes them all.
    public var selection: Set<String>?
    /// Which assembler reads the set: GNU as, or LLVM's integrated assembler.
    public var flavor: Flavor
    /// Mark each 64-bit site's instruction for objtool as "no ENDBR expected" (an entry in
    /// `.discard.noendbr`, as Linux's ANNOTATE_NOENDBR writes), so that a kernel built with IBT
    /// (CONFIG_X86_KERNEL_IBT) gets no "data relocation to !ENDBR" warning for the notes.
    public var objtoolNoEndbr = false
    /// The text is not assembled as macros but expanded by `InPlaceExpansion` into the user's own line
    /// (`previrt as`'s in-place route): no `.linefile` before the re-emitted instruction, which is on the
    /// user's line already.
    public var inPlace = false

    /// The assembler a macro set is written for.
    public enum Flavor: String, Sendable, CaseIterable {
        /// GNU as: `{nooptimize}` / `{store}` re-emit the real instruction inside its macro.
        case gnu
        /// LLVM's integrated assembler (clang): no `{nooptimize}`, but macro names are case-sensitive and
        /// mnemonics are not, so the real instruction is re-emitted in upper case; it does not
        /// normalize blanks in macro arguments, so register pairs are listed with and without a blank;
        /// and the site's local labels are numeric (`SiteLabel`).
        case llvm
    }

    public init(
        architecture: Architecture, profile: Profile, commandLine: String? = nil, selection: Set<String>? = nil,
        flavor: Flavor = .gnu
    ) {
        self.architecture = architecture
        self.profile = profile
        self.flavor = flavor
        self.commandLine = commandLine ?? "previrt macros --arch \(architecture.rawValue) --profile \(profile.name)"
        self.selection = selection
        self.fullSpellings = Self.spellings(architecture, profile)
    }

    /// The prefixes whose macros look at the mnemonic after them.
    public var prefixes: [String] {
        ["rep", "repe", "repz", "repne", "repnz", "data16", "data32", "addr16", "addr32"] + (architecture == .x86_64 ? ["rex64"] : [])
    }

    /// The kinds this set annotates, restricted to spellings that exist in the target's modes (and to
    /// the selection, when there is one).
    public var spellings: [(InstructionKind, Spelling)] {
        guard let selection else { return fullSpellings }
        return fullSpellings.filter { selection.contains($0.1.mnemonic) }
    }

    /// Every spelling, whatever the selection (the prefix table must know all sensitive mnemonics):
    /// computed once per architecture and profile, since previrt-as asks for them several times a run.
    private(set) var fullSpellings: [(InstructionKind, Spelling)]

    private static func spellings(_ architecture: Architecture, _ profile: Profile) -> [(InstructionKind, Spelling)] {
        let modes = architecture.modes
        return profile.kinds.flatMap { kind in
            kind.spellings.filter { s in s.modes.contains { modes.contains($0) } }.map { (kind, $0) }
        }
    }

    public var text: String {
        var o = GeneratedText()
        o.line(preamble)
        o.line(optOut)
        siteMachinery(&o)
        operandTables(&o)
        mnemonicMacros(&o)
        prefixMacros(&o)
        o.line("# end of previrt macro set")
        return o.text
    }

    /// The header comment.
    private var preamble: String {
        #"""
        # previrt macro set for GNU as: \#(architecture.rawValue), profile \#(profile.name).
        # Generated by `\#(commandLine)`; do not edit.
        #
        # SPDX-License-Identifier: MIT
        # Copyright (c) 2026 the previrt authors.
        # Permission is hereby granted, free of charge, to any person obtaining a copy of this file, to deal
        # in it without restriction, including the rights to use, copy, modify, merge, publish, distribute,
        # sublicense and/or sell copies, subject to this notice being kept. THE FILE IS PROVIDED "AS IS",
        # WITHOUT WARRANTY OF ANY KIND.
        #
        # Use: gcc -Wa,previrt-\#(architecture.rawValue).s ...  (the file is assembled before the input)
        # Every sensitive instruction below is emitted unchanged, padded with NOPs and recorded in
        # .note.previrt (note ABI v\#(NoteABI.version), Docs/note-format.md). previrt_off / previrt_on
        # bracket code that must never be patched. AT&T syntax only.

        """#
    }

    // MARK: - What the templates interpolate

    /// How a mnemonic (or prefix) is written so that the real instruction, not its macro, is assembled.
    func name(_ m: String) -> String { flavor == .llvm ? m.uppercased() : m }
    /// Before each line of a macro body that re-emits the user's instruction: `.linefile 0 "" 2` makes
    /// gas 2.40 report that line at its physical position, which inside a macro expansion is the
    /// invocation's line in the file being read, instead of the line in the macro file (Docs/macro-sets.md,
    /// "Diagnostics"). On the same line as the instruction, so that no line is counted in between.
    var here: String { flavor == .llvm || inPlace ? "" : ".linefile 0 \"\" 2; " }
    /// Before a re-emitted site instruction: exactly the encoding gas would choose, no -O rewriting.
    var exactPrefix: String { flavor == .llvm ? "" : "{nooptimize} " }
    /// Before a re-emitted ordinary instruction: gas's own choice, -O included.
    var plainPrefix: String { flavor == .llvm ? "" : "{store} " }

    /// The prefixes that have a macro in this set.
    var selectedPrefixes: [String] { prefixes.filter { selection?.contains($0) ?? true } }

    func kind(named name: String) -> InstructionKind? {
        profile.kinds.first { $0.name == name }
    }

    func kindID(_ name: String) -> Int { Int(Catalog.kind(named: name)?.id ?? 0) }

    func kindFor(_ cls: RegisterClass, _ position: OperandPosition) -> InstructionKind? {
        profile.kinds.first { kind in
            kind.spellings.contains { s in
                if case .registerOperand(let c, let p) = s.classification { return c == cls && p == position }
                return false
            }
        }
    }

    /// The value a site's kind and flags travel in through `.L__pv_v` and the operand tables:
    /// kind id | flags << `flagShift`.
    static let flagShift = 16
    /// `.L__pv_v & kindMask` is the kind id.
    static let kindMask = "0xffff"

    func value(_ kind: InstructionKind, extra: SiteFlags = []) -> String {
        let flags = kind.flags.union(extra).rawValue
        return flags == 0 ? "\(kind.id)" : "\(Int(kind.id) | Int(flags) << Self.flagShift)"
    }
}
