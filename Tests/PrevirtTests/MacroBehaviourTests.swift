// SPDX-License-Identifier: GPL-3.0-or-later
// Look-alikes, prefixes, code modes and the opt-out, through the real assembler.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtMacros
import PrevirtNote
import Testing

@Suite("Macro-set behaviour")
struct MacroBehaviourTests {


    @Test("look-alikes make no site and leave the object byte-identical", arguments: [
        (CodeMode.bits64, LookAlikes.x86_64), (CodeMode.bits32, LookAlikes.i386),
    ])
    func lookAlikes(_ mode: CodeMode, _ statements: [String]) throws {
        let arch: Architecture = mode == .bits64 ? .x86_64 : .i386
        for statement in statements {
            let source = ".text\n\(statement)\n"
            let flags = [mode.assemblerFlag]
            guard case .success(let plain) = try Toolchain.assemble(source, flags: flags) else {
                Issue.record("\(statement) does not assemble plainly")
                continue
            }
            let annotated = try Toolchain.assemble(source, flags: flags, macros: Toolchain.macroSet(arch))
            switch annotated {
            case .failure(let f): Issue.record("\(statement): the macros broke it: \(f.output)")
            case .success(let bytes):
                #expect(bytes == plain, "\(statement): object differs")
            }
        }
    }

    @Test("every file that assembles plainly fails the same way or not at all with the macros")
    func errorsStayErrors() throws {
        for statement in ["mov %cr3", "movq %ds,(%rax)", "pushq %ds", "lgdt %eax", "cli %eax"] {
            let plain = try Toolchain.assemble(statement + "\n", flags: ["--64"])
            let annotated = try Toolchain.assemble(statement + "\n", flags: ["--64"], macros: Toolchain.macroSet(.x86_64))
            #expect((try? plain.get()) == nil, "\(statement) assembles plainly")
            #expect((try? annotated.get()) == nil, "\(statement) assembles with the macros")
        }
    }

    @Test("a prefix on the same line is part of the site")
    func prefixOnSameLine() throws {
        try SiteCheck.expectOneSite(statement: "rep insw", kind: "ins", mode: .bits64, architecture: .x86_64,
                                    paddingBefore: false, extraFlags: .prefixedInstruction)
        try SiteCheck.expectOneSite(statement: "rep outsb", kind: "outs", mode: .bits32, architecture: .i386,
                                    paddingBefore: false, extraFlags: .prefixedInstruction)
        try SiteCheck.expectOneSite(statement: "rex64 ljmp *(%rax)", kind: "ljmp", mode: .bits64, architecture: .x86_64,
                                    paddingBefore: false, extraFlags: .prefixedInstruction)
        try SiteCheck.expectOneSite(statement: "data16 lgdt (%eax)", kind: "lgdt", mode: .bits32, architecture: .i386,
                                    paddingBefore: false, extraFlags: .prefixedInstruction)
    }

    @Test("a prefix statement right before ins/outs is flagged; one further away is not")
    func prefixStatementBefore() throws {
        let near = try annotate("rep; insb\n", .x86_64)
        try #require(near.notes.sites.count == 1)
        #expect(near.notes.sites[0].record.flags.contains(.prefixMayPrecede))
        #expect(near.notes.sites[0].address == 1)
        let far = try annotate("rep; insb\nrep; stosb\npushq %rbx\noutsb\n", .x86_64)
        try #require(far.notes.sites.count == 2)
        #expect(far.notes.sites[1].record.flags.contains(.prefixMayPrecede) == false)
    }

    @Test("the code mode is measured per site: .code16, .code32 and .code64 in one file")
    func codeModes() throws {
        let object = try annotate(".code16\ncli\nlgdtl (%bx)\n.code32\ncli\nmovl %cr0,%eax\n.code64\ncli\nmov %cr3,%rax\n.code16\n", .x86_64)
        let modes = object.notes.sites.map(\.record.modeBits)
        #expect(modes == [16, 16, 32, 32, 64, 64])
        // 16-bit padding is 66 90 / 90 only, although the file ends in .code16 and
        // .nops would have used that mode everywhere.
        let first = object.notes.sites[0]
        #expect(Array(object.text[1..<5]) == [0x66, 0x90, 0x66, 0x90])
        #expect(first.record.siteLength == 5)
        let third = object.notes.sites[2]
        let pad = Array(object.text[Int(third.sectionOffset) + 1..<Int(third.sectionOffset) + 5])
        #expect(pad == NopTable.bytes(4))
    }

    @Test("previrt_off and previrt_on bracket code that stays unannotated, and nest")
    func optOut() throws {
        let object = try annotate("cli\nprevirt_off\ncli\nprevirt_off\nsti\nprevirt_on\nhlt\nprevirt_on\nsti\n", .x86_64)
        #expect(object.notes.sites.map { $0.record.kind?.name } == ["cli", "sti"])
        #expect(object.text.count == 5 + 1 + 1 + 1 + 5)
        let unbalanced = try Toolchain.assemble("previrt_on\n", flags: ["--64"], macros: Toolchain.macroSet(.x86_64))
        #expect((try? unbalanced.get()) == nil)
    }

    @Test("--pad N pads every site by exactly N bytes; --pad 0 adds no byte to the code")
    func exactPadding() throws {
        for pad in [0, 3, 12] {
            let path = try Toolchain.macroSet(.x86_64, pad: pad)
            let bytes = try Toolchain.assemble("cli\nmov %cr3,%rax\n", flags: ["--64"], macros: path).get()
            let object = try AnnotatedObject(bytes: bytes)
            #expect(object.notes.sites.map(\.record.siteLength) == [UInt8(1 + pad), UInt8(3 + pad)])
            #expect(object.text.count == 4 + 2 * pad)
        }
    }

    @Test("sites with and without the probe: the probe section is excluded from links, the notes are kept")
    func linking() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ".globl _start\n_start:\ncli\nnop\nmov %cr3,%rax\nhlt\n".write(to: dir.appendingPathComponent("a.s"), atomically: true, encoding: .utf8)
        #expect(try Toolchain.run("as", ["--64", try Toolchain.macroSet(.x86_64), "a.s", "-o", "a.o"], in: dir).succeeded)
        #expect(try Toolchain.run("ld", ["-Ttext=0x401000", "-o", "a.elf", "a.o"], in: dir).succeeded)
        let linked = try AnnotatedObject(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("a.elf"))))
        #expect(linked.elf.section(named: ".discard.previrt_probe") == nil)
        #expect(linked.notes.sites.map(\.address) == [0x401000, 0x401006, 0x40100b])
        #expect(linked.notes.sites.map { $0.record.kind?.name } == ["cli", "mov-from-cr", "hlt"])
        let readelf = try Toolchain.run("readelf", ["-n", "-W", "a.elf"], in: dir)
        #expect(readelf.succeeded)
        #expect(!readelf.output.lowercased().contains("warning") && !readelf.output.lowercased().contains("error"))
        #expect(readelf.output.components(separatedBy: "PreVirt").count - 1 == 4)
    }

    private func annotate(_ source: String, _ arch: Architecture) throws -> AnnotatedObject {
        let flags = [arch == .x86_64 ? "--64" : "--32"]
        return try AnnotatedObject(bytes: try Toolchain.assemble(source, flags: flags, macros: Toolchain.macroSet(arch)).get())
    }
}
