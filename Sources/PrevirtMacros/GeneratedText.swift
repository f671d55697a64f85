// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the text of a generated file, line by line or template by template.

/// Accumulates the text of a generated file: the macro sets, the C headers, Docs/catalog.md.
///
/// A "line" may be a whole template of several lines (a Swift multi-line string literal):
/// ```swift
/// var o = GeneratedText()
/// o.line(#"""
///     .macro previrt_off
///     .set .L__pv_depth, .L__pv_depth + 1
///     .endm
///     """#)
/// ```
struct GeneratedText {
    private(set) var text = ""

    /// Appends `s` and a newline.
    mutating func line(_ s: String) {
        text += s
        text += "\n"
    }
}
