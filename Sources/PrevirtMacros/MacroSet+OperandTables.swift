// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the classification tables: quoted local symbols whose value is a site's kind and flags
// (Docs/macro-sets.md, "How it works").

import PrevirtCatalog

extension GNUAsMacroSet {
    /// Quoted local symbols that classify operand strings in O(1): `.ifdef ".L__pv_%cr3,%rax"`.
    /// Written flat: `.irp` loops would be shorter but cost gas three times as long at start-up.
    func operandTables(_ o: inout GeneratedText) {
        let gpr = architecture.generalRegisters
        // Each of these walks the catalog: once here, not once per table entry.
        let spellings = self.spellings
        let needsOperandTables = spellings.contains { if case .registerOperand = $0.1.classification { return true } else { return false } }
        let prefixTable = !selectedPrefixes.isEmpty
        func set(_ name: String, _ value: String) {
            o.line(#".set ".L__pv_\#(name)", \#(value)"#)
            // LLVM keeps the blank a source writes after the comma: list that spelling too.
            if flavor == .llvm, name.contains(",") {
                o.line(#".set ".L__pv_\#(name.split(separator: ",", maxSplits: 1).joined(separator: ", "))", \#(value)"#)
            }
        }
        o.line("# Operand tables: each symbol's value is kind id | flags << \(Self.flagShift).")
        o.line("# Register-to-register moves, as the input scrubber leaves them (`%cr3,%rax`).")
        for cls in [RegisterClass.control, .debug] where needsOperandTables {
            guard let to = kindFor(cls, .destination), let from = kindFor(cls, .source) else { continue }
            for r in architecture.specialRegisters(cls) {
                for g in architecture.controlPartners {
                    set("\(g),\(r)", value(to))
                    set("\(r),\(g)", value(from))
                }
            }
        }
        if needsOperandTables, let to = kindFor(.segment, .destination), let from = kindFor(.segment, .source) {
            for g in gpr.r16 + gpr.r32 + gpr.r64 {
                for r in RegisterClass.segment.names {
                    set("\(g),\(r)", value(to, extra: RegisterClass.siteFlags(loading: r)))
                    set("\(r),\(g)", value(from))
                }
            }
            o.line("# Segment-register moves with a memory operand (`mov`/`movw` only): first or last token.")
            for r in RegisterClass.segment.names {
                set("s\(r)", value(from))
                set("d\(r)", value(to, extra: RegisterClass.siteFlags(loading: r)))
            }
        }
        if needsOperandTables, let push = kind(named: "push-seg") {
            for r in RegisterClass.segment.names { set("push\(r)", value(push)) }
        }
        if needsOperandTables, let pop = kind(named: "pop-seg") {
            for r in RegisterClass.segment.names { set("pop\(r)", value(pop, extra: RegisterClass.siteFlags(loading: r))) }
        }
        for (_, spelling) in spellings {
            if case .alwaysExcept(let exceptions) = spelling.classification {
                for e in exceptions { set("\(spelling.mnemonic)\(e)", "0") }
            }
        }
        if spellings.contains(where: { $0.1.mnemonic == "movq" }) {
            o.line("# movq between two XMM or two MMX registers: value 0, re-emitted with {nooptimize}, not {store}.")
            // In AT&T syntax and in Intel syntax without register prefixes, lower and upper case.
            let simd = (0..<(architecture == .x86_64 ? 16 : 8)).map { "xmm\($0)" }
            let mmx = (0..<8).map { "mm\($0)" }
            for bank in [simd, mmx] {
                for spelled in [bank.map { "%" + $0 }, bank, bank.map { $0.uppercased() }] {
                    for a in spelled { for b in spelled { set("\(a),\(b)", "0") } }
                }
            }
        }
        o.line("# Always-sensitive mnemonics, for statements that start with a prefix (`rep insw`).")
        for (kind, spelling) in prefixTable ? fullSpellings : [] where spelling.classification == .always {
            set("k\(spelling.mnemonic)", value(kind, extra: .prefixedInstruction))
        }
        o.line("")
    }

}
