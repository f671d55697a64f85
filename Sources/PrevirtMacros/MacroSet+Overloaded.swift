// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: mov, push, pop and their suffixes, which are sensitive only with special-register operands
// (Docs/macro-sets.md, "How it works" and "Cost").

extension GNUAsMacroSet {
    /// The macros of the overloaded mnemonics `mnemonics` (in catalog order), and the helpers they call.
    func overloadedMacros(_ o: inout GeneratedText, _ mnemonics: [String]) {
        guard !mnemonics.isEmpty else { return }
        o.line(hitMacro)
        if mnemonics.contains("mov") || mnemonics.contains("movw") { o.line(segmentMemoryClassifier) }
        for m in mnemonics { o.line(overloadedMacro(m)) }
    }

    /// A mnemonic that is sensitive only with special-register operands.
    ///
    /// The common path (not in the table) is the first branch and three lines long: every line of a
    /// macro body costs gas time on each of the tens of thousands of moves in compiler output.
    /// It re-emits the statement with `{store}`, not `{nooptimize}`: both stop gas from expanding the
    /// macro again, but `{store}` keeps `as -O` optimizations, and it selects the encoding gas picks
    /// anyway for every form of these mnemonics except `movq` between two XMM or two MMX registers,
    /// where gas's choice depends on the registers and on -msse2avx: those pairs are in the table with
    /// value 0 and get `{nooptimize}`, which leaves the choice to gas.
    private func overloadedMacro(_ m: String) -> String {
        let table = m.hasPrefix("push") ? "push" : m.hasPrefix("pop") ? "pop" : ""
        if m == "mov" || m == "movw" {
            // Not a register pair: a segment register may still stand beside a memory operand.
            return #"""
                .macro \#(m) a:vararg
                .ifndef ".L__pv_\#(table)\a"
                __pv_segmem \#(name(m)), \a
                .else
                __pv_hit \#(table),\#(name(m)),\a
                .endif
                .endm
                """#
        }
        // The re-emitting line after the macro call: see mnemonicMacros.
        return #"""
            .macro \#(m) a:vararg
            .ifdef ".L__pv_\#(table)\a"
            __pv_hit \#(table),\#(name(m)),\a
            .else
            \#(here)\#(plainPrefix)\#(name(m)) \a
            .endif
            .endm
            """#
    }

    /// `__pv_hit TABLE, MNEMONIC, OPERANDS`: the operands are in a table. Value 0 marks a movq register
    /// pair that is not sensitive but must not get `{store}`. Kept out of line so that the common path
    /// of the overloaded macros stays short: gas copies and scans a macro's whole body on every use.
    private var hitMacro: String {
        #"""
        .macro __pv_hit t, m, a:vararg
        .set .L__pv_v, ".L__pv_\t\a"
        .if .L__pv_v
        __pv_site \#(exactPrefix)\m \a
        .else
        \#(here)\#(exactPrefix)\m \a
        .endif
        .endm
        """#
    }

    /// `__pv_segmem MNEMONIC, OPERANDS`: splits the operands at commas (and blanks); the first token is
    /// a source segment register, or a later one the destination. `8(%rbx,%rcx,4),%ss` is four tokens.
    /// The statement is re-emitted from \a, whole.
    private var segmentMemoryClassifier: String {
        #"""
        .macro __pv_segmem m, a:vararg
        .set .L__pv_v, 0
        __pv_tokens \a
        .if .L__pv_v
        __pv_site \#(exactPrefix)\m \a
        .else
        \#(here)\#(plainPrefix)\m \a
        .endif
        .endm
        .macro __pv_tokens p1,p2,p3,p4,p5,p6:vararg
        .ifdef ".L__pv_s\p1"
        .set .L__pv_v, ".L__pv_s\p1"
        .endif
        .ifdef ".L__pv_d\p2"
        .set .L__pv_v, ".L__pv_d\p2"
        .endif
        .ifdef ".L__pv_d\p3"
        .set .L__pv_v, ".L__pv_d\p3"
        .endif
        .ifdef ".L__pv_d\p4"
        .set .L__pv_v, ".L__pv_d\p4"
        .endif
        .ifdef ".L__pv_d\p5"
        .set .L__pv_v, ".L__pv_d\p5"
        .endif
        .ifdef ".L__pv_d\p6"
        .set .L__pv_v, ".L__pv_d\p6"
        .endif
        .endm
        """#
    }
}
