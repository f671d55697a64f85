// SPDX-License-Identifier: GPL-3.0-or-later
// previrt notes: list the header notes and sites of ELF files.

import ArgumentParser
import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtNote

struct NotesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notes",
        abstract: "List the .note.previrt headers and sites of ELF objects and executables.",
        discussion: """
            Reads relocatable objects (resolving each site through its relocation) and linked ELF32/ELF64
            files. Exit status: 0 when every file was read, 2 when a file is unusable.
            """
    )

    @Argument(help: "ELF files to read.")
    var files: [String]

    func run() throws {
        var failed = false
        for path in files {
            do {
                print(try listing(of: path), terminator: "")
            } catch {
                FileHandle.standardError.write(Data("previrt notes: \(path): \(error)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(2) }
    }

    private func listing(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw OutputError("cannot read the file") }
        let elf = try ELFFile(bytes: Array(data))
        let notes = try elf.previrtNotes()
        let symbols = (try? elf.symbols()) ?? []
        var out = "\(path):\n"
        for h in notes.headers {
            out += "  header: ABI v\(h.abiVersion), e_machine \(h.machine), generator '\(h.generator)', profile '\(h.profile)'\n"
        }
        out += "  \(notes.sites.count) site\(notes.sites.count == 1 ? "" : "s")\n"
        for site in notes.sites {
            let r = site.record
            let kind = r.kind?.name ?? "kind#\(r.kindID)"
            let place = site.section.map { "\($0.name)+0x\(String(site.sectionOffset, radix: 16))" } ?? "outside every section"
            let name = SymbolNamer(symbols: symbols).name(section: site.section?.index, offset: site.sectionOffset, linked: elf.fileType != .relocatable, address: site.address)
            let flags = r.flags.names.isEmpty ? "" : " [\(r.flags.names.joined(separator: ","))]"
            out += "  0x\(String(site.address, radix: 16).leftPadded(8))  \(place.rightPadded(22)) \(name.rightPadded(28)) \(kind.rightPadded(13)) insn \(r.instructionLength) site \(r.siteLength) mode \(r.modeBits)\(flags)\n"
        }
        for n in notes.unrecognized {
            if case .unrecognized(_, _, let reason) = n.payload { out += "  note \(n.index) at offset \(n.offset): \(reason)\n" }
        }
        return out
    }
}

/// Names an address as symbol+offset from the nearest preceding non-section symbol.
struct SymbolNamer {
    var symbols: [ELFFile.Symbol]

    func name(section: Int?, offset: UInt64, linked: Bool, address: UInt64) -> String {
        let wanted = linked ? address : offset
        let candidates = symbols.filter { s in
            !s.name.isEmpty && s.type != 3 && s.type != 4 && (linked || Int(s.sectionIndex) == section) && s.value <= wanted
                && (!linked || section == nil || Int(s.sectionIndex) == section)
        }
        guard let best = candidates.max(by: { $0.value < $1.value }) else { return "?" }
        return "\(best.name)+0x\(String(wanted - best.value, radix: 16))"
    }
}
