// SPDX-License-Identifier: GPL-3.0-or-later
// The macro generator reads as what it writes: Docs/macro-sets.md shows the site template and its output
// side by side, and both must be what the source and the committed set say.

import Foundation
import PrevirtCatalog
import PrevirtMacros
import Testing

@Suite("Macro templates")
struct MacroTemplateTests {
    /// The code blocks of the section "The generator" in Docs/macro-sets.md.
    static func generatorSectionBlocks() throws -> [[String]] {
        let doc = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Docs/macro-sets.md"), encoding: .utf8)
        guard let start = doc.range(of: "## The generator") else { return [] }
        let section = doc[start.upperBound...]
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        var blocks: [[String]] = []
        var current: [String]?
        for line in section[..<end].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let c = current { blocks.append(c); current = nil } else { current = [] }
            } else if current != nil {
                current!.append(String(line))
            }
        }
        return blocks
    }

    static func lines(of path: String) throws -> Set<String> {
        let text = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent(path), encoding: .utf8)
        return Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    @Test("the documented template is the template in MacroSet+Site.swift, and its output the committed set's")
    func documentedTemplate() throws {
        let blocks = try Self.generatorSectionBlocks()
        try #require(blocks.count == 2, "Docs/macro-sets.md, \"The generator\": expected the template and its output")
        let template = try Self.lines(of: "Sources/PrevirtMacros/MacroSet+Site.swift")
        let output = try Self.lines(of: "Macros/previrt-x86_64.s")
        for line in blocks[0] where line != "..." { #expect(template.contains(line), "not in the template: \(line)") }
        for line in blocks[1] where line != "..." { #expect(output.contains(line), "not in the macro set: \(line)") }
        #expect(blocks[0].count > 10 && blocks[0].count == blocks[1].count)
    }

    @Test("every numeric label the LLVM flavour references is defined in the same macro, on the side the suffix says",
          arguments: Architecture.allCases)
    func llvmLabels(_ arch: Architecture) throws {
        var set = GNUAsMacroSet(architecture: arch, profile: try Profile.named("default"), flavor: .llvm)
        set.objtoolNoEndbr = true
        var checked = 0
        for body in set.text.components(separatedBy: ".macro ").dropFirst() {
            let lines = body.split(separator: "\n").map(String.init)
            for (n, line) in lines.enumerated() {
                for match in line.matches(of: /\b(987\d\d)([bf])\b/) {
                    let definition = "\(match.1):"
                    let before = lines[..<n].contains { $0.hasPrefix(definition) }
                        || line.hasPrefix(definition) && line.range(of: definition)!.upperBound <= match.range.lowerBound
                    let after = lines[(n + 1)...].contains { $0.hasPrefix(definition) }
                    #expect(match.2 == "b" ? before : after, "\(arch): \(line)")
                    checked += 1
                }
            }
            #expect(!body.contains("\\@:"), "\(arch): a \\@ label in the LLVM flavour")
        }
        #expect(checked > 10)
    }
}
