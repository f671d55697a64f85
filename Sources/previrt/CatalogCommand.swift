// SPDX-License-Identifier: GPL-3.0-or-later
// previrt catalog: print the instruction catalog.

import ArgumentParser
import Foundation
import PrevirtCatalog
import PrevirtMacros

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Print the catalog of sensitive instructions.",
        discussion: "Kind ids are stable: they are what site notes record. --json prints an array of objects with id, name, spellings, pad and more."
    )

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(help: "Print the Markdown table of Docs/catalog.md.")
    var markdown = false

    @Option(help: "Show the padding of this profile.")
    var profile = "default"

    func validate() throws {
        do throws(CatalogError) {
            _ = try Profile.named(profile)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let chosen = try Profile.named(profile)
        if json {
            try OutputFile.write(try catalogJSON(chosen) + "\n", to: nil)
        } else if markdown {
            try OutputFile.write(CatalogDocument.markdown, to: nil)
        } else {
            try OutputFile.write(catalogTable(chosen), to: nil)
        }
    }

    private func catalogJSON(_ profile: Profile) throws -> String {
        struct Entry: Encodable {
            var id: UInt16
            var name: String
            var summary: String
            var spellings: [String]
            var forms: [String]
            var modes: [Int]
            var flags: [String]
            var profiles: [String]
            var pad: Pad
        }
        struct Pad: Encodable {
            var rule: String
            var site_length: Int?
            var bytes: Int?
        }
        let entries = Catalog.kinds.map { kind in
            let pad: Pad
            switch profile.padding {
            case .toSiteLength(let n): pad = Pad(rule: "to-site-length", site_length: n, bytes: nil)
            case .exactly(let n): pad = Pad(rule: "exactly", site_length: nil, bytes: n)
            }
            var forms: [String] = []
            for s in kind.spellings { for f in s.forms where !forms.contains(f.syntax) { forms.append(f.syntax) } }
            return Entry(
                id: kind.id, name: kind.name, summary: kind.summary, spellings: kind.mnemonics, forms: forms,
                modes: Set(kind.spellings.flatMap(\.modes)).sorted().map(\.rawValue), flags: kind.flags.names,
                profiles: Profile.builtIn.filter { $0.includes(kind) }.map(\.name), pad: pad)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(entries), as: UTF8.self)
    }

    private func catalogTable(_ profile: Profile) -> String {
        var out = "  id  kind           in \(profile.name)  spellings\n"
        for kind in Catalog.kinds {
            let id = String(kind.id).leftPadded(4)
            let name = kind.name.padding(toLength: 14, withPad: " ", startingAt: 0)
            let inProfile = (profile.includes(kind) ? "yes" : "no").padding(toLength: 4 + profile.name.count, withPad: " ", startingAt: 0)
            out += "\(id)  \(name) \(inProfile) \(kind.mnemonics.joined(separator: " "))\n"
        }
        switch profile.padding {
        case .toSiteLength(let n): out += "padding: each site is padded with NOPs to at least \(n) bytes\n"
        case .exactly(let n): out += "padding: \(n) NOP bytes at each site\n"
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
