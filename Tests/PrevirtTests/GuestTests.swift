// SPDX-License-Identifier: GPL-3.0-or-later
// The headline: one guest ELF boots on QEMU (bare hardware) with the native and the trace backends,
// prints the same transcript, and a tampered copy is refused with nothing patched.

import Foundation
import PrevirtELF
import PrevirtNote
import Testing

enum Guest {
    static let transcript = """
        previrt demo guest
        interrupt flag (cli, sti, pushf, popf): ok
        control registers (mov to and from cr0, cr2, cr3, cr4): ok
        machine status word (smsw, lmsw, clts): ok
        debug registers (mov to and from db0, dr1): ok
        descriptor tables (lgdt, sgdt, lidt, sidt, lldt, sldt): ok
        segment registers (ljmp, mov to and from segment registers, push and pop, lgs): ok
        far call and return, software interrupt (lcall, lret, int, iret): ok
        model-specific registers (wrmsr, rdmsr): ok
        processor identification (cpuid): ok
        tlb and caches (invlpg, wbinvd): ok
        port i/o (in, out: the COM1 line status): ok
        result: pass

        """
    static let passStatus: Int32 = (0x10 << 1) | 1
    static let failStatus: Int32 = (0x11 << 1) | 1

    /// Builds the guest with the project's Makefile (the one recipe) and returns its path.
    static func build() throws -> String {
        let r = try Toolchain.run("make", ["-s", "out/guest/guest.elf"], in: Toolchain.packageRoot)
        guard r.succeeded else { throw CorpusError("cannot build the guest: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/guest/guest.elf").path
    }

    /// Boots `kernel` on qemu-system-i386 with `append` as the multiboot command line.
    static func boot(_ kernel: String, _ append: String) throws -> CommandResult {
        try Toolchain.run("timeout", [
            "60", "qemu-system-i386", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel, "-append", append,
        ])
    }
}

@Suite("Demo guest on QEMU", .serialized)
struct GuestTests {
    @Test("backend native: the transcript, and the pass status")
    func native() throws {
        let r = try Guest.boot(try Guest.build(), "previrt=native")
        #expect(r.output == Guest.transcript)
        #expect(r.status == Guest.passStatus)
    }

    @Test("backend trace: the same transcript, then the counts; every executed site counted")
    func trace() throws {
        let kernel = try Guest.build()
        let r = try Guest.boot(kernel, "previrt=trace")
        #expect(r.status == Guest.passStatus)
        #expect(r.output.hasPrefix(Guest.transcript))
        let counts = r.output.dropFirst(Guest.transcript.count).split(separator: "\n")
        let sites = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))).previrtNotes().sites
        #expect(counts.first == "trace: \(sites.count) sites patched, 0 left native")
        // Every kind the checks exercise ran at least once under the trace stubs.
        let ran = Set(counts.dropFirst().compactMap { $0.split(separator: " ").dropFirst(3).first.map(String.init) })
        for kind in ["cli", "sti", "pushf", "popf", "mov-to-cr", "mov-from-cr", "mov-to-dr", "mov-from-dr", "mov-to-seg",
                     "mov-from-seg", "push-seg", "pop-seg", "lgdt", "sgdt", "lidt", "sidt", "lldt", "sldt", "smsw", "lmsw",
                     "clts", "ljmp", "lcall", "lret", "int", "iret", "lgs", "rdmsr", "wrmsr", "cpuid", "invlpg", "wbinvd", "in", "out"] {
            #expect(ran.contains(kind), "\(kind) never ran")
        }
    }

    @Test("a tampered copy is refused, naming the site, and nothing is patched", arguments: ["trace", "native"])
    func tampered(_ backend: String) throws {
        let kernel = try Guest.build()
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))
        let elf = try ELFFile(bytes: bytes)
        let sites = try elf.previrtNotes().sites
        let victim = try #require(sites.last { $0.record.kind?.name == "cpuid" })
        let text = try #require(victim.section)
        bytes[Int(text.offset + victim.sectionOffset) + victim.record.instructionOffset] = 0x90
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("tampered.elf")
        try Data(bytes).write(to: copy)
        let r = try Guest.boot(copy.path, "previrt=\(backend)")
        #expect(r.status == Guest.failStatus)
        let expected = "previrt: refused to patch: note \(victim.note.index), site 0x\(String(format: "%08x", victim.address)): "
            + "wrong instruction: the bytes at the site are not the recorded instruction; nothing was patched\n"
        #expect(r.output == expected)
    }
}
