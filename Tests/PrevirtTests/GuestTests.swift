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
        let r = try Toolchain.make(["-s", "out/guest/guest.elf", "out/host/previrt-linux-user"])
        guard r.succeeded else { throw CorpusError("cannot build the guest: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/guest/guest.elf").path
    }

    /// Boots `kernel` on qemu-system-i386 with `append` as the multiboot command line.
    static func boot(_ kernel: String, _ append: String) throws -> CommandResult {
        try bootOnQEMU("qemu-system-i386", kernel, append)
    }

    /// Boots `kernel` on `system` (a qemu-system-* program) with `append` as its command line, COM1 on
    /// standard output and isa-debug-exit at 0xf4, and `initrd` if given; at most 60 s, then SIGKILL: QEMU
    /// inherits the test process's blocked signals, so a SIGTERM would stay pending and QEMU run forever.
    static func bootOnQEMU(_ system: String, _ kernel: String, _ append: String, initrd: String? = nil) throws -> CommandResult {
        try Toolchain.run("timeout", [
            "-s", "KILL", "60", system, "-display", "none", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel, "-append", append,
        ] + (initrd.map { ["-initrd", $0] } ?? []))
    }
}

/// Runs `kernel` under the linux-user VMM through the previrt command.
func runUnderLinuxUser(_ kernel: String) throws -> CommandResult {
    try Toolchain.run(Fixture.previrt, ["run", kernel])
}

@Suite("Demo guest on QEMU and under the linux-user VMM", .serialized)
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

    @Test("previrt run (linux-user): the same ELF file prints the same transcript and exits with the pass status")
    func linuxUser() throws {
        let kernel = try Guest.build()
        let r = try runUnderLinuxUser(kernel)
        #expect(r.output == Guest.transcript)
        #expect(r.status == Guest.passStatus)
        // The very file QEMU boots: nothing was rewritten on disk.
        let again = try Guest.boot(kernel, "previrt=native")
        #expect(again.output == Guest.transcript)
    }

    @Test("previrt run refuses an instruction the linux-user VMM does not emulate, naming it, and runs nothing")
    func unsupported() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ".globl _start\n_start:\ncli\nlar %ax,%ecx\nout %al,$0xf4\n".write(to: dir.appendingPathComponent("u.s"), atomically: true, encoding: .utf8)
        #expect(try Toolchain.run("as", ["--32", try Toolchain.macroSet(.i386), "u.s", "-o", "u.o"], in: dir).succeeded)
        #expect(try Toolchain.run("ld", ["-m", "elf_i386", "-Ttext=0x100000", "-o", "u.elf", "u.o"], in: dir).succeeded)
        _ = try Guest.build()
        let r = try runUnderLinuxUser(dir.appendingPathComponent("u.elf").path)
        #expect(r.status == 2)
        #expect(r.output.contains("refused to patch: note 2, site 0x100005") && r.output.contains("lar at 0x100005 is not emulated"), "\(r.output)")
    }

    @Test("previrt run refuses a 16-bit operand size on a stack or far-pointer instruction, naming it",
          arguments: ["pushfw", "popfw", "iretw", "lretw", "pushw %fs", "lcallw *(%eax)", "ldsw (%eax),%bx"])
    func sixteenBitOperands(_ statement: String) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ".globl _start\n_start:\ncli\n\(statement)\nout %al,$0xf4\n".write(to: dir.appendingPathComponent("u.s"), atomically: true, encoding: .utf8)
        #expect(try Toolchain.run("as", ["--32", try Toolchain.macroSet(.i386), "u.s", "-o", "u.o"], in: dir).succeeded)
        #expect(try Toolchain.run("ld", ["-m", "elf_i386", "-Ttext=0x100000", "-o", "u.elf", "u.o"], in: dir).succeeded)
        _ = try Guest.build()
        let r = try runUnderLinuxUser(dir.appendingPathComponent("u.elf").path)
        #expect(r.status == 2, "\(statement): \(r.output)")
        #expect(r.output.contains("with a 16-bit operand size at 0x100005 is not emulated") && r.output.contains("nothing was patched"),
                "\(statement): \(r.output)")
    }

    @Test("a tampered copy is refused, naming the site, and nothing is patched", arguments: ["trace", "native", "linux-user"])
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
        if backend == "linux-user" {
            let r = try runUnderLinuxUser(copy.path)
            #expect(r.status == 2)
            #expect(r.output == "previrt run: \(copy.path): refused to patch: note \(victim.note.index), site 0x\(String(victim.address, radix: 16)): "
                + "wrong instruction: the bytes at the site are not the recorded instruction; nothing was patched\n")
            return
        }
        let r = try Guest.boot(copy.path, "previrt=\(backend)")
        #expect(r.status == Guest.failStatus)
        let expected = "previrt: refused to patch: note \(victim.note.index), site 0x\(String(format: "%08x", victim.address)): "
            + "wrong instruction: the bytes at the site are not the recorded instruction; nothing was patched\n"
        #expect(r.output == expected)
    }
}
