// SPDX-License-Identifier: GPL-3.0-or-later
// Test support: assemble one statement plainly and with a macro set, and check the site it makes.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtMacros
import PrevirtNote
import Testing

/// One statement of the catalog in one mode.
struct CatalogSample: Sendable, CustomTestStringConvertible {
    var kind: String
    var mnemonic: String
    var operands: String
    var mode: CodeMode

    var statement: String { operands.isEmpty ? mnemonic : "\(mnemonic) \(operands)" }
    var testDescription: String { "\(mode.rawValue)-bit \(statement)" }

    var architecture: Architecture { mode == .bits64 ? .x86_64 : .i386 }

    /// Whether the site should carry its padding before the instruction (interrupt shadow).
    var expectsPaddingBefore: Bool {
        let k = Catalog.kind(named: kind)!
        return k.flags.contains(.paddingPrecedes) || (["mov-to-seg", "pop-seg"].contains(kind) && operands.hasSuffix("%ss"))
    }

    static var all: [CatalogSample] {
        Catalog.kinds.flatMap { kind in
            kind.spellings.flatMap { spelling in
                spelling.forms.flatMap { form in
                    form.samples.sorted { $0.key < $1.key }.map {
                        CatalogSample(kind: kind.name, mnemonic: spelling.mnemonic, operands: $0.value, mode: $0.key)
                    }
                }
            }
        }
    }
}

/// What one assembly with a macro set produced.
struct AnnotatedObject {
    var elf: ELFFile
    var notes: PrevirtNotes
    var text: [UInt8]

    init(bytes: [UInt8]) throws {
        elf = try ELFFile(bytes: bytes)
        notes = try elf.previrtNotes()
        text = elf.bytes(of: ".text")
    }
}

enum SiteCheck {
    /// Assembles `statement` plainly and through the macro set, and checks the one site it must make.
    static func expectOneSite(
        statement: String, kind: String, mode: CodeMode, architecture: Architecture, preamble: String = "",
        paddingBefore: Bool, extraFlags: SiteFlags = [], profile: String = "default", sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let flags = [mode == .bits64 ? "--64" : "--32"]
        let source = "\(preamble)\n\(statement)\n"
        let plain = try Toolchain.assemble(source, flags: flags).get()
        let plainText = try ELFFile(bytes: plain).bytes(of: ".text")
        let annotated = try AnnotatedObject(bytes: try Toolchain.assemble(source, flags: flags, macros: Toolchain.macroSet(architecture, profile: profile)).get())
        try #require(annotated.notes.sites.count == 1, "\(statement): \(annotated.notes.sites.count) sites", sourceLocation: sourceLocation)
        let site = annotated.notes.sites[0]
        let r = site.record
        #expect(r.kind?.name == kind, "\(statement): kind \(r.kindID)", sourceLocation: sourceLocation)
        #expect(Int(r.instructionLength) == plainText.count, "\(statement): length \(r.instructionLength) vs \(plainText.count)", sourceLocation: sourceLocation)
        #expect(Int(r.siteLength) == max(Profile.callSiteLength, plainText.count), sourceLocation: sourceLocation)
        #expect(r.mode == mode, "\(statement): mode \(r.modeBits)", sourceLocation: sourceLocation)
        #expect(r.flags.contains(.paddingPrecedes) == paddingBefore, "\(statement): flags \(r.flags.names)", sourceLocation: sourceLocation)
        #expect(r.flags.isSuperset(of: extraFlags), "\(statement): flags \(r.flags.names)", sourceLocation: sourceLocation)
        #expect(r.problems.isEmpty, "\(r.problems)", sourceLocation: sourceLocation)
        #expect(site.section?.name == ".text" && site.sectionOffset == 0, sourceLocation: sourceLocation)
        #expect(annotated.text.count == Int(r.siteLength), sourceLocation: sourceLocation)
        let insn = Array(annotated.text[r.instructionOffset..<(r.instructionOffset + Int(r.instructionLength))])
        #expect(insn == plainText, "\(statement): bytes \(insn.hexList) vs \(plainText.hexList)", sourceLocation: sourceLocation)
        let padStart = paddingBefore ? 0 : Int(r.instructionLength)
        let padding = Array(annotated.text[padStart..<(padStart + r.paddingLength)])
        #expect(padding == NopTable.padding(count: r.paddingLength, modeBits: Int(r.modeBits)), sourceLocation: sourceLocation)
        #expect(annotated.notes.headers.count == 1, sourceLocation: sourceLocation)
        #expect(annotated.notes.headers.first?.machine == architecture.machine, sourceLocation: sourceLocation)
    }
}
