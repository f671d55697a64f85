// SPDX-License-Identifier: GPL-3.0-or-later
// Test support: compare two relocatable objects by content, not by section index.

import PrevirtELF
import PrevirtNote

/// Compares a plain object with one assembled through a macro set: every section, symbol and
/// relocation of the plain object must be there, unchanged; the only additions allowed are the
/// note and probe sections (and their relocation sections and section symbols).
enum ObjectComparison {
    static let ownSections: Set<String> = [
        NoteABI.sectionName, ".rela" + NoteABI.sectionName, ".rel" + NoteABI.sectionName,
        ".discard.previrt_probe", ".rela.discard.previrt_probe", ".rel.discard.previrt_probe",
    ]
    private static let bookkeeping: Set<String> = [".symtab", ".strtab", ".shstrtab", ".symtab_shndx"]

    /// The differences found; empty when the objects are equivalent.
    static func differences(plain a: ELFFile, annotated b: ELFFile) throws -> [String] {
        var found: [String] = []
        let aSections = a.sections.filter { $0.index != 0 && !bookkeeping.contains($0.name) && !isRelocation($0) }
        let bSections = b.sections.filter { $0.index != 0 && !bookkeeping.contains($0.name) && !isRelocation($0) && !ownSections.contains($0.name) }
        guard aSections.map(\.name) == bSections.map(\.name) else {
            return ["sections differ: \(aSections.map(\.name)) vs \(bSections.map(\.name))"]
        }
        let extra = b.sections.filter { $0.index != 0 && !bookkeeping.contains($0.name) }.map(\.name)
            .filter { name in !a.sections.contains { $0.name == name } && !ownSections.contains(name) }
        if !extra.isEmpty { found.append("extra sections \(extra)") }
        let aSymbols = try a.symbols()
        let bSymbols = try b.symbols()
        for (x, y) in zip(aSections, bSections) {
            if x.type != y.type || x.flags != y.flags || x.size != y.size || x.alignment != y.alignment || x.entrySize != y.entrySize {
                found.append("section \(x.name): header differs")
                continue
            }
            if x.type == 17 {
                // SHT_GROUP holds section indices: compare the members by name.
                if try groupMembers(a, x) != groupMembers(b, y) { found.append("group \(x.name): members differ") }
            } else if try a.contents(of: x) != b.contents(of: y) {
                found.append("section \(x.name): contents differ")
            }
            let ra = try a.relocations(for: x).map { describe($0, a, aSymbols) }
            let rb = try b.relocations(for: y).map { describe($0, b, bSymbols) }
            if ra != rb { found.append("section \(x.name): relocations differ") }
        }
        // Every plain symbol must be there unchanged. The additions allowed: section symbols (a note's
        // relocation names the section its site is in) and the null symbol of a symbol table that the
        // plain object did not need.
        var added = bSymbols.map { describe($0, b) }
        for symbol in aSymbols.map({ describe($0, a) }) {
            if let i = added.firstIndex(of: symbol) {
                added.remove(at: i)
            } else {
                found.append("symbol \(symbol) is missing or changed")
            }
        }
        let unexpected = added.filter { !$0.hasPrefix("section:") && $0 != nullSymbol }
        if !unexpected.isEmpty { found.append("symbols added: \(unexpected.prefix(4))") }
        return found
    }

    private static let nullSymbol = " 0 0 0 UND"

    private static func isRelocation(_ s: ELFFile.Section) -> Bool {
        s.type == ELFFile.Section.typeRela || s.type == ELFFile.Section.typeRel
    }

    private static func sectionName(_ f: ELFFile, _ index: UInt16) -> String {
        if index == 0 { return "UND" }
        if index >= 0xff00 { return "special-\(index)" }
        return Int(index) < f.sections.count ? f.sections[Int(index)].name : "bad-\(index)"
    }

    private static func describe(_ s: ELFFile.Symbol, _ f: ELFFile) -> String {
        let name = s.type == 3 ? "section:" + sectionName(f, s.sectionIndex) : s.name
        return "\(name) \(s.value) \(s.size) \(s.info) \(sectionName(f, s.sectionIndex))"
    }

    private static func describe(_ r: ELFFile.Relocation, _ f: ELFFile, _ symbols: [ELFFile.Symbol]) -> String {
        let symbol = r.symbolIndex < symbols.count ? describe(symbols[r.symbolIndex], f) : "bad-\(r.symbolIndex)"
        return "\(r.offset) \(r.type) \(symbol) \(r.addend.map(String.init) ?? "-")"
    }

    private static func groupMembers(_ f: ELFFile, _ s: ELFFile.Section) throws -> [String] {
        let bytes = try f.contents(of: s)
        var out: [String] = []
        var i = 0
        while i + 4 <= bytes.count {
            let v = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
            out.append(i == 0 ? "flags \(v)" : (v < f.sections.count ? f.sections[v].name : "bad"))
            i += 4
        }
        return out
    }
}
