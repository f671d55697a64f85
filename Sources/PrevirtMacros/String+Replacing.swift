// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: substring replacement without Foundation, for the generators.

extension String {
    /// Every occurrence of `a` replaced by `b`.
    func replacingOccurrences(of a: String, with b: String) -> String {
        guard !a.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: a) {
            out += rest[..<r.lowerBound] + b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    /// A catalog name as a C macro suffix: `mov-to-cr` is `MOV_TO_CR`.
    var cMacroName: String { uppercased().replacingOccurrences(of: "-", with: "_") }
}
