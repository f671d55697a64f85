// SPDX-License-Identifier: GPL-3.0-or-later
// previrt inspect on objects, executables and archives built here with the real toolchain, and on
// malformed input.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtInspector
import PrevirtNote
import PrevirtMacros
import Testing

/// A scratch directory with objects built by the real toolchain.
final class Workbench {
    let dir: URL
    init() throws { dir = try Toolchain.scratch() }
    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    @discardableResult
    func run(_ tool: String, _ args: [String]) throws -> CommandResult {
        let r = try Toolchain.run(tool, args, in: dir)
        #expect(r.succeeded, "\(tool) \(args): \(r.output)")
        return r
    }

    /// Assembles `source` with the macro set of `arch`.
    func assemble(_ name: String, _ source: String, arch: Architecture = .x86_64, macros: Bool = true) throws {
        try write(name + ".s", source)
        try run("as", [arch == .i386 ? "--32" : "--64"] + (macros ? [try Toolchain.macroSet(arch)] : []) + [name + ".s", "-o", name + ".o"])
    }

    func inspect(_ names: [String], _ options: InspectionOptions = InspectionOptions(verify: true, coverage: true, stats: true)) -> InspectionReport {
        Inspector(options: options).inspect(names.map(path))
    }

    func patch(_ name: String, at offset: Int, with bytes: [UInt8]) throws {
        let url = dir.appendingPathComponent(name)
        var data = try Data(contentsOf: url)
        data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        try data.write(to: url)
    }

    func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: dir.appendingPathComponent(name))) }
}

@Suite("previrt inspect")
struct InspectorTests {
    @Test("C inline asm and .S, 32- and 64-bit, objects and linked executables: every site verifies", arguments: Architecture.allCases)
    func cleanBuilds(_ arch: Architecture) throws {
        let w = try Workbench()
        let m = arch == .i386 ? ["-m32"] : []
        let macros = try Toolchain.macroSet(arch)
        try w.run("gcc", m + ["-O2", "-ffreestanding", "-fno-pic", "-c", "-Wa,\(macros)", Fixture.cSource, "-o", "io.o"])
        try w.assemble("start", ".globl _start\n_start:\ncall flush_tlb\ncall idle\n1: hlt\njmp 1b\n", arch: arch)
        try w.run("ld", (arch == .i386 ? ["-m", "elf_i386"] : []) + ["-o", "guest.elf", "start.o", "io.o"])
        let report = w.inspect(["io.o", "guest.elf"])
        #expect(report.exitStatus == 0, "\(report.diagnosticsText)")
        let object = report.files[0]
        let linked = report.files[1]
        #expect(object.relocatable && !linked.relocatable)
        #expect(object.sites.count == 11 && linked.sites.count == 12)
        #expect(linked.sites.allSatisfy { $0.status == .ok })
        #expect(linked.unannotated?.isEmpty == true)
        #expect(linked.sites.map(\.symbol).contains("flush_tlb"))
        let cr3 = try #require(linked.sites.first { $0.kind == "mov-from-cr" })
        #expect(cr3.insn?.hasPrefix("mov %cr3,") == true)
        #expect(linked.stats?.by_kind["hlt"] == 2)
        // The linked addresses are the object's offsets moved by the link.
        let text = try #require(try ELFFile(bytes: w.bytes("guest.elf")).section(named: ".text"))
        #expect(linked.sites.allSatisfy { $0.address >= text.address && $0.address < text.address + text.size })
    }

    @Test("a shared object: PC-relative site fields need no dynamic relocation")
    func sharedObject() throws {
        let w = try Workbench()
        try w.run("gcc", ["-O2", "-fPIC", "-shared", "-Wa,\(try Toolchain.macroSet(.x86_64))", Fixture.cSource, "-o", "libio.so"])
        let report = w.inspect(["libio.so"])
        #expect(report.exitStatus == 0, "\(report.diagnosticsText)")
        #expect(report.files[0].sites.count == 11 && report.files[0].sites.allSatisfy { $0.status == .ok })
        let dynamic = try w.run("readelf", ["-r", "-W", "libio.so"]).output
        #expect(!dynamic.contains(".note.previrt"))
    }

    @Test("a static archive: each member is inspected")
    func archive() throws {
        let w = try Workbench()
        try w.assemble("a", ".text\nf:\ncli\n")
        try w.assemble("b", ".text\ng:\nmov %cr3,%rax\nhlt\n")
        try w.write("readme.txt", "not an object\n")
        try w.run("ar", ["rcs", "lib.a", "a.o", "b.o", "readme.txt"])
        let report = w.inspect(["lib.a"])
        #expect(report.files.map(\.path) == [w.path("lib.a") + "(a.o)", w.path("lib.a") + "(b.o)"])
        #expect(report.files.map { $0.sites.count } == [1, 2])
        #expect(report.exitStatus == 0)
    }

    @Test("coverage finds a hand-encoded cli and code assembled without the macro set")
    func coverage() throws {
        let w = try Workbench()
        try w.assemble("mixed", ".text\nf:\ncli\n.byte 0xfa\nnop\ng:\nsti\n")
        try w.assemble("plain", ".text\nh:\nmov %cr3,%rax\npushfq\nint $0x80\nint $3\nrdtsc\n", macros: false)
        let report = w.inspect(["mixed.o", "plain.o"])
        #expect(report.exitStatus == 1)
        let mixed = report.files[0]
        #expect(mixed.sites.count == 2 && mixed.sites.allSatisfy { $0.status == .ok })
        #expect(mixed.unannotated?.map(\.address) == [5])
        #expect(mixed.unannotated?.first?.symbol == "f" && mixed.unannotated?.first?.offset == 5)
        let plain = report.files[1]
        #expect(plain.sites.isEmpty)
        #expect(plain.unannotated?.map(\.kind) == ["mov-from-cr", "pushf", "int"])
        #expect(plain.diagnostics.contains { $0.code == "no-notes" })
    }

    @Test("verify rejects a tampered site, naming the note and the site")
    func tampered() throws {
        let w = try Workbench()
        try w.assemble("t", ".text\nf:\ncli\nhlt\n")
        let elf = try ELFFile(bytes: try w.bytes("t.o"))
        let text = try #require(elf.section(named: ".text"))
        try w.patch("t.o", at: Int(text.offset) + 5, with: [0x90])  // hlt -> nop
        try w.patch("t.o", at: Int(text.offset) + 1, with: [0xcc])  // cli's padding -> int3
        let report = w.inspect(["t.o"], InspectionOptions(verify: true))
        #expect(report.exitStatus == 1)
        let file = report.files[0]
        #expect(file.sites.map(\.status) == [.badPadding, .mismatch])
        let mismatch = try #require(file.diagnostics.first { $0.code == "mismatch" })
        #expect(mismatch.message.contains("note 2 at offset 0x") && mismatch.message.contains("site 0x5 (f+0x5)"))
        #expect(mismatch.message.contains("recorded as hlt") && mismatch.message.contains("decodes as 'nop'"))
    }

    @Test("a site in run-time-copied template code is pointed out")
    func template() throws {
        let w = try Workbench()
        try w.assemble("o", ".text\n.globl optprobe_template_entry\noptprobe_template_entry:\npushf\nret\n")
        let report = w.inspect(["o.o"])
        #expect(report.exitStatus == 0)
        #expect(report.files[0].diagnostics.contains { $0.code == "template" && $0.message.contains("optprobe_template_entry") })
    }

    @Test("a site in a non-executable section is reported as such")
    func notExecutable() throws {
        let w = try Workbench()
        try w.assemble("alt", ".text\nnop\n.section .altinstr_replacement,\"a\"\ncli\n")
        let report = w.inspect(["alt.o"])
        #expect(report.files[0].sites.map(\.status) == [.notExecutable])
        #expect(report.files[0].diagnostics.contains { $0.code == "not-executable" && $0.message.contains(".altinstr_replacement") })
        #expect(report.exitStatus == 1)
        // Without --verify the summary must not claim a verification that did not happen.
        let listed = w.inspect(["alt.o"], InspectionOptions(verify: false, coverage: false, stats: true))
        #expect(listed.text.contains("1 site (not verified): 1 with findings"), "\(listed.text)")
        #expect(!listed.text.contains("verified,"))
        #expect(report.text.contains("1 site (not verified): 1 with findings"), "\(report.text)")   // nothing to verify there
    }

    @Test("--json: one document with the documented fields")
    func json() throws {
        let w = try Workbench()
        try w.assemble("j", ".text\nf:\ncli\n.byte 0xf4\n")
        let data = try JSONEncoder().encode(w.inspect(["j.o"]))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let file = try #require((root["files"] as? [[String: Any]])?.first)
        for key in ["path", "format", "arch", "headers", "sites", "unannotated", "stats", "diagnostics"] {
            #expect(file[key] != nil, "\(key)")
        }
        let site = try #require((file["sites"] as? [[String: Any]])?.first)
        for key in ["address", "section", "symbol", "offset", "kind", "kind_id", "mode", "insn_len", "site_len", "insn", "status"] {
            #expect(site[key] != nil, "\(key)")
        }
        #expect(site["status"] as? String == "ok" && site["kind"] as? String == "cli")
        let finding = try #require((file["unannotated"] as? [[String: Any]])?.first)
        #expect(finding["kind"] as? String == "hlt" && finding["address"] as? Int == 5)
    }
}

@Suite("previrt inspect on malformed input")
struct MalformedInputTests {
    /// A site note written by hand in the note section: `.long 8, 12, 0x50560002; "PreVirt"; desc`.
    static func handNote(owner: String = "PreVirt", namesz: Int = 8, descsz: Int = 12, type: String = "0x50560002", descriptor: String) -> String {
        ".pushsection .note.previrt,\"a\",@note\n.balign 4\n.long \(namesz), \(descsz), \(type)\n.ascii \"\(owner)\\0\"\n\(descriptor)\n.popsection\n"
    }

    static let siteFields = ".long 1b - .\n.short 1\n.byte 1, 1, 64, 0\n.short 0"

    func expectStatus(_ source: String, link: Bool = false, _ status: Int32, code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let w = try Workbench()
        try w.assemble("m", source, macros: false)
        var name = "m.o"
        if link {
            try w.run("ld", ["-e", "0", "-o", "m.elf", "m.o"])
            name = "m.elf"
        }
        let report = w.inspect([name])
        #expect(report.exitStatus == status, "\(report.diagnosticsText)", sourceLocation: sourceLocation)
        #expect(report.files.flatMap(\.diagnostics).contains { $0.code == code }, "\(report.diagnosticsText)", sourceLocation: sourceLocation)
    }

    @Test("a wrong owner") func wrongOwner() throws {
        try expectStatus(".text\n1: cli\n" + Self.handNote(owner: "PreViru", descriptor: Self.siteFields), 1, code: "foreign-note")
    }

    @Test("an unknown kind id") func unknownKind() throws {
        try expectStatus(".text\n1: cli\n" + Self.handNote(descriptor: ".long 1b - .\n.short 999\n.byte 1, 1, 64, 0\n.short 0"), 1, code: "invalid-site")
    }

    @Test("an unknown note type and a short descriptor") func unknownType() throws {
        try expectStatus(".text\n1: cli\n" + Self.handNote(type: "0x50560007", descriptor: Self.siteFields), 1, code: "unknown-type")
        try expectStatus(".text\n1: cli\n" + Self.handNote(descsz: 8, descriptor: ".long 1b - .\n.long 0"), 1, code: "bad-descriptor")
    }

    @Test("namesz or descsz that run past the section") func lyingSizes() throws {
        try expectStatus(".text\n1: cli\n" + Self.handNote(namesz: 4000, descriptor: Self.siteFields), 2, code: "note-structure")
        try expectStatus(".text\n1: cli\n" + Self.handNote(descsz: 4000, descriptor: Self.siteFields), 2, code: "note-structure")
    }

    @Test("a site offset pointing outside every section") func outside() throws {
        try expectStatus(".text\n_start: cli\n" + Self.handNote(descriptor: ".long 0x70000000\n.short 1\n.byte 1, 1, 64, 0\n.short 0"), link: true, 1, code: "outside")
    }

    @Test("a zero-length note section") func zeroLength() throws {
        let w = try Workbench()
        try w.assemble("z", ".text\ncli\n.section .note.previrt,\"a\",@note\n", macros: false)
        let report = w.inspect(["z.o"], InspectionOptions(verify: true))
        #expect(report.files[0].sites.isEmpty)
        #expect(report.exitStatus == 0)
    }

    @Test("a file that is not ELF, a truncated ELF file, a missing file") func unusable() throws {
        let w = try Workbench()
        try w.write("text.o", "hello\n")
        try w.assemble("t", ".text\ncli\nhlt\n")
        let whole = try w.bytes("t.o")
        try Data(whole.prefix(whole.count / 2)).write(to: URL(fileURLWithPath: w.path("half.o")))
        try Data(whole.prefix(40)).write(to: URL(fileURLWithPath: w.path("head.o")))
        for name in ["text.o", "half.o", "head.o", "missing.o"] {
            let report = w.inspect([name])
            #expect(report.exitStatus == 2, "\(name): \(report.diagnosticsText)")
            #expect(report.files.flatMap(\.diagnostics).allSatisfy { $0.message.contains(name) })
        }
    }

    @Test("every byte of a real note section flipped, one at a time: no crash, and every flip of a site's fields noticed",
          arguments: [Architecture.x86_64, .i386])
    func flips(_ arch: Architecture) throws {
        let w = try Workbench()
        let register = arch == .i386 ? "%eax" : "%rax"
        try w.assemble("f", ".text\nf:\ncli\nmov %cr3,\(register)\nsti\n", arch: arch)
        let elf = try ELFFile(bytes: try w.bytes("f.o"))
        let notes = try #require(elf.section(named: ".note.previrt"))
        let original = try w.bytes("f.o")
        #expect(w.inspect(["f.o"]).exitStatus == 0)
        // The bytes of each site descriptor that say where the site is and what it holds: a flip in any
        // of them must be noticed. The offset field (bytes 0-3) counts only with REL relocations (i386):
        // with RELA (x86_64) the relocation's addend says where the site is and the field is ignored.
        // Other bytes (the header's generator text, reserved fields) may be flipped harmlessly.
        let first = arch == .i386 ? 0 : 4
        let parsed = try Note.parseSection(try elf.contents(of: notes))
        let meaningful = Set(parsed.flatMap { note -> [Int] in
            guard case .site = note.payload else { return [] }
            return Array((note.descriptorOffset + first)..<(note.descriptorOffset + 10))
        })
        #expect(meaningful.count == 3 * (10 - first))
        for i in 0..<Int(notes.size) {
            var mutated = original
            mutated[Int(notes.offset) + i] ^= 0xff
            try Data(mutated).write(to: URL(fileURLWithPath: w.path("f.o")))
            let report = w.inspect(["f.o"])
            if meaningful.contains(i) {
                #expect(report.exitStatus != 0, "byte \(i) of the note section flipped: the inspector found nothing wrong")
            }
            #expect(report.files.count == 1)
        }
    }
}

@Suite("Inspector documentation")
struct InspectorDocumentationTests {
    @Test("every diagnostic code is explained in Docs/diagnostics.md", arguments: DiagnosticCode.allCases.map(\.rawValue))
    func documented(_ code: String) throws {
        let doc = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Docs/diagnostics.md"), encoding: .utf8)
        #expect(doc.contains("### `\(code)`"))
    }
}
