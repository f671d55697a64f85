// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: what the arguments of GNU as say.

import PrevirtMacros

/// What the (response-file-expanded) arguments of GNU as say.
struct Invocation {
    static let optionsWithValue: Set<String> = ["-o", "-I", "--defsym", "-MD", "--MD", "--debug-prefix-map"]
    /// Indices of the input files in the expanded arguments.
    var inputs: [Int] = []
    /// The index of `-` in the expanded arguments, when standard input is named.
    var standardInputIndex: Int?
    var readsStandardInput = false
    var architecture: Architecture = .x86_64
    var assemblesSomething = true
    /// The file of `--MD FILE`: the dependencies GNU as writes.
    var dependencyFile: String?
    /// A listing is asked for (`-a...`, `--listing-...`): GNU as reads the source files again to print it.
    var wantsListing = false

    init(_ arguments: [String]) {
        var i = 0
        var sawInput = false
        while i < arguments.count {
            let a = arguments[i]
            if Self.optionsWithValue.contains(a) {
                if a == "--MD" || a == "-MD", i + 1 < arguments.count { dependencyFile = arguments[i + 1] }
                i += 2
                continue
            }
            switch a {
            case "--32": architecture = .i386
            case "--64", "--x32": architecture = .x86_64
            case "--version", "--help", "-V": assemblesSomething = false
            case "-":
                readsStandardInput = true
                standardInputIndex = standardInputIndex ?? i
                sawInput = true
            default:
                if a.hasPrefix("--MD=") { dependencyFile = String(a.dropFirst(5)) }
                if (a.hasPrefix("-a") && !a.hasPrefix("-a-")) || a.hasPrefix("--listing") { wantsListing = true }
                if !a.hasPrefix("-") {
                    inputs.append(i)
                    sawInput = true
                }
            }
            i += 1
        }
        if !sawInput && assemblesSomething { readsStandardInput = true }
    }
}
