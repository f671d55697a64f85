// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the macro set's state and its opt-out, previrt_off / previrt_on (Docs/macro-sets.md, "Opting out").

extension GNUAsMacroSet {
    /// `.L__pv_depth` counts open `previrt_off`s; `.L__pv_pfx` remembers the last bare prefix statement.
    var optOut: String {
        #"""
        # Annotation is on while .L__pv_depth is 0; previrt_off / previrt_on nest.
        .set .L__pv_depth, 0
        # \@ of the last bare prefix statement (`rep;`), to flag an ins/outs site right after it.
        .set .L__pv_pfx, -10
        .macro previrt_off
        .set .L__pv_depth, .L__pv_depth + 1
        .endm
        .macro previrt_on
        .if .L__pv_depth
        .set .L__pv_depth, .L__pv_depth - 1
        .else
        .error "previrt_on without a matching previrt_off"
        .endif
        .endm

        """#
    }
}
