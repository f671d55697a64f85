// SPDX-License-Identifier: GPL-3.0-or-later
// Transparency on assembly no one here wrote: the x86 files of the binutils 2.40 gas testsuite.
//
// Each file is assembled three times with the flags of its .d file: plainly (A), with the macro set
// padded by 0 bytes (B0) and with the default macro set (B). A file without sites must come out
// byte-identical. A file with sites must be equivalent to the plain object in B0 (every section,
// symbol and relocation unchanged; only the note and probe sections added), and in B each site must
// hold the same instruction bytes followed (or preceded) by the NOPs of its mode.

import Foundation
import PrevirtELF
import PrevirtMacros
import PrevirtNote
import Testing

enum CorpusOutcome: Sendable {
    case notAssembling
    case identical
    case explained(sites: Int)
    /// Differs from the plain object exactly as it does when an empty file is assembled first: the
    /// effect of `-Wa,FILE` adding an input file (gas's -mx86-used-note writes a property note per file).
    case extraInputFile
    case excluded(String)
    case broken(String)
    case unexplained([String])
}

@Suite("Transparency on the gas testsuite")
struct TransparencyTests {
    @Test("the macro sets break no file and every difference is a site")
    func corpus() async throws {
        let units = try GasCorpus.units()
        let macroNames = try Self.macroNames()
        let outcomes = try await withThrowingTaskGroup(of: (CorpusUnit, CorpusOutcome).self) { group in
            var results: [(CorpusUnit, CorpusOutcome)] = []
            var next = 0
            let width = max(2, ProcessInfo.processInfo.activeProcessorCount)
            func add() {
                guard next < units.count else { return }
                let unit = units[next]
                next += 1
                group.addTask { (unit, try Self.evaluate(unit, macroNames: macroNames)) }
            }
            for _ in 0..<width { add() }
            while let r = try await group.next() {
                results.append(r)
                add()
            }
            return results.sorted { $0.0.name < $1.0.name }
        }

        var counts: [String: Int] = [:]
        var report = ""
        var sites = 0
        for (unit, outcome) in outcomes {
            switch outcome {
            case .notAssembling: counts["not assembling plainly", default: 0] += 1
            case .identical: counts["byte-identical", default: 0] += 1
            case .explained(let n):
                counts["explained by sites", default: 0] += 1
                sites += n
                report += "sites \(n): \(unit)\n"
            case .extraInputFile:
                counts["explained by the extra input file", default: 0] += 1
                report += "extra input file: \(unit)\n"
            case .excluded(let why):
                counts["excluded", default: 0] += 1
                report += "excluded: \(unit): \(why)\n"
            case .broken(let why):
                counts["broken by the macros", default: 0] += 1
                report += "BROKEN: \(unit): \(why)\n"
            case .unexplained(let diffs):
                counts["unexplained difference", default: 0] += 1
                report += "UNEXPLAINED: \(unit): \(diffs.joined(separator: "; "))\n"
            }
        }
        let summary = "gas testsuite corpus: \(units.count) units; "
            + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "; \(sites) sites"
        print(summary)
        let reportURL = Toolchain.packageRoot.appendingPathComponent(".build/transparency-report.txt")
        try? (summary + "\n" + report).write(to: reportURL, atomically: true, encoding: .utf8)

        #expect(counts["broken by the macros", default: 0] == 0, "\(report)")
        #expect(counts["unexplained difference", default: 0] == 0, "\(report)")
        // The corpus must really have been exercised.
        #expect(counts["byte-identical", default: 0] > 800)
        #expect(counts["explained by sites", default: 0] > 50)
    }

    /// The mnemonics and helper names a macro set defines (for the exclusion rule).
    static func macroNames() throws -> Set<String> {
        var names = Set<String>()
        for arch in Architecture.allCases {
            let text = try String(contentsOfFile: try Toolchain.macroSet(arch), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix(".macro ") {
                names.insert(String(line.dropFirst(7).split(separator: " ")[0]).lowercased())
            }
        }
        return names
    }

    static func evaluate(_ unit: CorpusUnit, macroNames: Set<String>) throws -> CorpusOutcome {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sourceDir = unit.source.deletingLastPathComponent()
        func assemble(_ mode: String, macros: String?, to name: String) throws -> CommandResult {
            try Toolchain.run("as", [mode] + unit.flags + ["-I", sourceDir.path] + (macros.map { [$0] } ?? [])
                + [unit.source.path, "-o", dir.appendingPathComponent(name).path], in: sourceDir)
        }
        var mode = unit.explicitMode ?? "--32"
        if try !assemble(mode, macros: nil, to: "a.o").succeeded {
            guard unit.explicitMode == nil else { return .notAssembling }
            mode = "--64"
            if try !assemble(mode, macros: nil, to: "a.o").succeeded { return .notAssembling }
        }
        let arch: Architecture = mode == "--32" ? .i386 : .x86_64
        let b0 = try assemble(mode, macros: try Toolchain.macroSet(arch, pad: 0), to: "b0.o")
        let b = try assemble(mode, macros: try Toolchain.macroSet(arch), to: "b.o")
        guard b0.succeeded, b.succeeded else {
            let text = (try? String(contentsOf: unit.source, encoding: .utf8)) ?? ""
            if let clash = ownMacroClash(text, macroNames) {
                return .excluded("defines its own macro `\(clash)`, a name the macro set defines")
            }
            if text.contains(".bundle_align_mode") {
                return .excluded("NaCl bundle mode (.bundle_align_mode) gives instructions no length until relaxation, so no site can be sized")
            }
            let failure = b0.succeeded ? b.output : b0.output
            if failure.contains("invalid character '+' in mnemonic") {
                return .excluded("an operand with a leading unary plus: gas 2.40 rejects `{pseudo-prefix} push +1` even when written by hand")
            }
            if quotedOperand(text) {
                return .excluded("a double-quoted symbol inside the operands of mov/push/pop, which the O(1) classifier cannot take")
            }
            return .broken((b0.succeeded ? b.output : b0.output).split(separator: "\n").prefix(3).joined(separator: " | "))
        }
        let read = { (name: String) throws -> [UInt8] in Array(try Data(contentsOf: dir.appendingPathComponent(name))) }
        let (a, zero, padded) = (try read("a.o"), try read("b0.o"), try read("b.o"))
        let elfA = try ELFFile(bytes: a)
        let elfZero = try ELFFile(bytes: zero)
        let elfPadded = try ELFFile(bytes: padded)
        let zeroNotes = try elfZero.previrtNotes()
        // The baseline for an input that the extra file itself changes: an empty file assembled first.
        func withEmptyFirst() throws -> ELFFile? {
            let empty = dir.appendingPathComponent("empty.s")
            try Data().write(to: empty)
            guard try assemble(mode, macros: empty.path, to: "e.o").succeeded else { return nil }
            return try ELFFile(bytes: try read("e.o"))
        }
        if zeroNotes.sites.isEmpty {
            if a == zero && a == padded { return .identical }
            if let e = try withEmptyFirst(), e.bytes == zero, zero == padded { return .extraInputFile }
            return .unexplained(["no sites, yet the object differs"] + (try ObjectComparison.differences(plain: elfA, annotated: elfZero)))
        }
        var diffs = try ObjectComparison.differences(plain: elfA, annotated: elfZero)
        if !diffs.isEmpty, let e = try withEmptyFirst(), try ObjectComparison.differences(plain: e, annotated: elfZero).isEmpty {
            diffs = []
        }
        if !diffs.isEmpty { return .unexplained(diffs) }
        let siteProblems = try paddedSiteProblems(zero: elfZero, zeroNotes: zeroNotes, padded: elfPadded)
        if !siteProblems.isEmpty { return .unexplained(siteProblems) }
        return .explained(sites: zeroNotes.sites.count)
    }

    /// In the padded object, each site must hold the instruction the unpadded one holds, and NOPs.
    static func paddedSiteProblems(zero: ELFFile, zeroNotes: PrevirtNotes, padded: ELFFile) throws -> [String] {
        let paddedNotes = try padded.previrtNotes()
        guard paddedNotes.sites.count == zeroNotes.sites.count else {
            return ["\(zeroNotes.sites.count) sites unpadded, \(paddedNotes.sites.count) padded"]
        }
        var problems: [String] = []
        for (z, p) in zip(zeroNotes.sites, paddedNotes.sites) {
            // An instruction assembled into an absolute section (.struct) only to measure its size:
            // its note points at no section, and its padding changes the measured size.
            if z.section == nil && p.section == nil { continue }
            guard z.record.kindID == p.record.kindID, z.record.instructionLength == p.record.instructionLength,
                  z.record.modeBits == p.record.modeBits, let zs = z.section, let ps = p.section else {
                problems.append("site \(z.note.index) differs between the padded and unpadded objects")
                continue
            }
            let zBytes = try zero.contents(of: zs)
            let pBytes = try padded.contents(of: ps)
            let insnStart = Int(p.sectionOffset) + p.record.instructionOffset
            guard Int(z.sectionOffset) + Int(z.record.instructionLength) <= zBytes.count,
                  Int(p.sectionOffset) + Int(p.record.siteLength) <= pBytes.count else {
                problems.append("site \(p.note.index) at \(ps.name)+\(p.sectionOffset) lies outside its section's bytes")
                continue
            }
            let zInsn = zBytes[Int(z.sectionOffset)..<Int(z.sectionOffset) + Int(z.record.instructionLength)]
            let pInsn = pBytes[insnStart..<insnStart + Int(p.record.instructionLength)]
            // A displacement resolved at assembly time (a local label) may move with the padding.
            let relocated = try padded.relocations(for: ps).contains { $0.offset >= UInt64(insnStart) && $0.offset < UInt64(insnStart) + UInt64(p.record.instructionLength) }
            if Array(zInsn) != Array(pInsn) && !relocated && zInsn.count == pInsn.count && !hasPCRelative(Array(zInsn)) {
                problems.append("site \(p.note.index): instruction bytes \(Array(pInsn).hexList) vs \(Array(zInsn).hexList)")
            }
            let padStart = Int(p.sectionOffset) + (p.record.flags.contains(.paddingPrecedes) ? 0 : Int(p.record.instructionLength))
            let pad = Array(pBytes[padStart..<padStart + p.record.paddingLength])
            if pad != NopTable.padding(count: p.record.paddingLength, modeBits: Int(p.record.modeBits)) {
                problems.append("site \(p.note.index): padding \(pad.hexList) is not the NOP padding of \(p.record.modeBits)-bit code")
            }
        }
        return problems
    }

    /// Far jumps and calls to a label in the same file carry an address gas resolves itself.
    static func hasPCRelative(_ bytes: [UInt8]) -> Bool {
        bytes.contains(0xea) || bytes.contains(0x9a)
    }

    /// A mov, push or pop whose operands hold a double-quoted symbol name.
    static func quotedOperand(_ text: String) -> Bool {
        text.split(separator: "\n").contains { line in
            let t = line.trimmingCharacters(in: .whitespaces).lowercased()
            return (t.hasPrefix("mov") || t.hasPrefix("push") || t.hasPrefix("pop")) && t.contains("\"")
        }
    }

    static func ownMacroClash(_ text: String, _ names: Set<String>) -> String? {
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.lowercased().hasPrefix(".macro") else { continue }
            let name = t.dropFirst(6).trimmingCharacters(in: .whitespaces).split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).first.map(String.init)?.lowercased()
            if let name, names.contains(name) { return name }
        }
        return nil
    }
}
