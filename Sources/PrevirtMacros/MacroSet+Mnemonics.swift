// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: one macro per always-sensitive spelling, and the prefix macros (Docs/macro-sets.md, "How it works").

import PrevirtCatalog

extension GNUAsMacroSet {
    /// One macro per spelling; the overloaded ones (mov, push, pop) are in MacroSet+Overloaded.swift.
    func mnemonicMacros(_ o: inout GeneratedText) {
        o.line("# One macro per spelling.")
        var overloaded: [String] = []
        for (kind, spelling) in spellings {
            let m = spelling.mnemonic
            switch spelling.classification {
            case .always:
                o.line(#"""
                    .macro \#(m) a:vararg
                    .set .L__pv_v, \#(value(kind))
                    __pv_site \#(exactPrefix)\#(name(m)) \a
                    .endm
                    """#)
            case .alwaysExcept:
                // The re-emitting line comes last: gas applies its .linefile even in a branch not taken,
                // and a macro invoked after it would be reported from the wrong line.
                o.line(#"""
                    .macro \#(m) a:vararg
                    .ifndef ".L__pv_\#(m)\a"
                    .set .L__pv_v, \#(value(kind))
                    __pv_site \#(exactPrefix)\#(name(m)) \a
                    .else
                    \#(here)\#(exactPrefix)\#(name(m)) \a
                    .endif
                    .endm
                    """#)
            case .registerOperand:
                // mov, push, pop and their suffixes belong to several kinds: one macro each.
                if !overloaded.contains(m) { overloaded.append(m) }
            }
        }
        overloadedMacros(&o, overloaded)
        o.line("")
    }

    /// Prefixes written on the same line as the instruction. A bare prefix statement (`rep;`) is
    /// remembered so that an ins/outs site right after it is flagged.
    func prefixMacros(_ o: inout GeneratedText) {
        o.line("# Prefixes on the same line as a sensitive mnemonic (`rep insw`, `rex64 ljmp *(%rax)`).")
        for p in selectedPrefixes {
            // The re-emitting lines after the macro call: see mnemonicMacros.
            o.line(#"""
                .macro \#(p) m, ops:vararg
                .ifnb \m
                .ifdef ".L__pv_k\m"
                .set .L__pv_v, ".L__pv_k\m"
                __pv_site \#(exactPrefix)\#(name(p)) \m \ops
                .else
                \#(here)\#(plainPrefix)\#(name(p)) \m \ops
                .endif
                .else
                \#(here)\#(exactPrefix)\#(name(p))
                .set .L__pv_pfx, \@
                .endif
                .endm
                """#)
        }
    }
}
