// SPDX-License-Identifier: GPL-3.0-or-later
// previrt (test support): find the `.note.previrt` entries of an ELF file and resolve where each site is.
//
// This is deliberately a second implementation. The tools locate sites in one place only, through
// libbfd (PrevirtInspector's ObjectInspector); this reader, written from the ELF gABI and the note ABI
// without libbfd, is the tests' independent oracle: when both agree on a site's address, neither has
// the relocation arithmetic wrong. No product depends on it.

import PrevirtNote

/// A site note together with the place it points at.
public struct LocatedSite: Sendable, Equatable {
    public var note: Note
    public var record: SiteRecord
    /// The section the site lies in, if the address falls inside one.
    public var section: ELFFile.Section?
    /// Offset of the site from the start of `section`.
    public var sectionOffset: UInt64
    /// The site's address (in a relocatable object: the offset within its section).
    public var address: UInt64
}

/// The headers and sites of one ELF file.
public struct PrevirtNotes: Sendable {
    public var headers: [HeaderRecord]
    public var sites: [LocatedSite]
    /// Notes that are well formed but are not PreVirt headers or sites.
    public var unrecognized: [Note]
}

public enum SiteLocatorError: Error, Equatable, CustomStringConvertible {
    case notes(NoteError)
    case elf(ELFError)
    case unresolved(note: Int, offset: Int, why: String)

    public var description: String {
        switch self {
        case .notes(let e): return e.description
        case .elf(let e): return e.description
        case .unresolved(let n, let o, let why): return "note \(n) at offset \(o): \(why)"
        }
    }
}

extension ELFFile {
    /// Reads `.note.previrt` and resolves every site, through the relocations in a relocatable object.
    public func previrtNotes() throws(SiteLocatorError) -> PrevirtNotes {
        var result = PrevirtNotes(headers: [], sites: [], unrecognized: [])
        for noteSection in sections where noteSection.name == NoteABI.sectionName {
            let notes: [Note]
            let relocations: [Relocation]
            let symbols: [Symbol]
            do {
                notes = try Note.parseSection(try contents(of: noteSection))
                relocations = fileType == .relocatable ? try self.relocations(for: noteSection) : []
                symbols = fileType == .relocatable ? try self.symbols() : []
            } catch let e as NoteError {
                throw .notes(e)
            } catch let e as ELFError {
                throw .elf(e)
            } catch {
                throw .unresolved(note: 0, offset: 0, why: "\(error)")
            }
            let noteBytes = (try? contents(of: noteSection)) ?? []
            for note in notes {
                switch note.payload {
                case .header(let h): result.headers.append(h)
                case .unrecognized: result.unrecognized.append(note)
                case .site(let record):
                    result.sites.append(try locate(
                        note, record, in: noteSection, relocations: relocations, symbols: symbols, noteBytes: noteBytes))
                }
            }
        }
        return result
    }

    private func locate(
        _ note: Note, _ record: SiteRecord, in noteSection: Section, relocations: [Relocation], symbols: [Symbol],
        noteBytes: [UInt8]
    ) throws(SiteLocatorError) -> LocatedSite {
        if fileType == .relocatable {
            guard let reloc = relocations.first(where: { $0.offset == UInt64(note.descriptorOffset) }) else {
                throw .unresolved(note: note.index, offset: note.offset, why: "no relocation for the site field")
            }
            guard reloc.symbolIndex < symbols.count else {
                throw .unresolved(note: note.index, offset: note.offset, why: "relocation names symbol \(reloc.symbolIndex), which does not exist")
            }
            let symbol = symbols[reloc.symbolIndex]
            // PC32 relocations: RELA carries the addend; REL stores it in the field itself.
            let addend = reloc.addend ?? Int64(record.relativeSite)
            let target = Int64(bitPattern: symbol.value) &+ addend
            let section = symbol.sectionIndex != 0 && Int(symbol.sectionIndex) < sections.count ? sections[Int(symbol.sectionIndex)] : nil
            return LocatedSite(note: note, record: record, section: section, sectionOffset: UInt64(bitPattern: target), address: UInt64(bitPattern: target))
        }
        let field = noteSection.address &+ UInt64(note.descriptorOffset)
        let address = UInt64(bitPattern: Int64(bitPattern: field) &+ Int64(record.relativeSite))
        let section = sections.first {
            $0.flags & Section.flagAlloc != 0 && $0.size > 0 && address >= $0.address && address - $0.address < $0.size
        }
        return LocatedSite(note: note, record: record, section: section, sectionOffset: section.map { address - $0.address } ?? 0, address: address)
    }
}
