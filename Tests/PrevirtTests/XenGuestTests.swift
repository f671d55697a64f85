// SPDX-License-Identifier: GPL-3.0-or-later
// The x86_64 demo guest: one ELF file boots on qemu-system-x86_64 (bare hardware, through its PVH
// entry) with the native and the trace backends and prints the same transcript; a tampered copy is
// refused with nothing patched.

import Foundation
import PrevirtELF
import PrevirtNote
import Testing

enum Guest64 {
    static let transcript = """
        previrt demo64 guest
        interrupt flag (cli, sti, pushf, popf): ok
        page-table base (mov from and to cr3): ok
        processor identification (cpuid): ok
        tlb and caches (invlpg, wbinvd): ok
        port i/o (in, out: the COM1 line status): ok
        result: pass

        """
    /// The kinds the checks exercise; each must run at least once under the trace backend.
    static let exercisedKinds = ["cli", "sti", "pushf", "popf", "mov-to-cr", "mov-from-cr", "cpuid", "invlpg", "wbinvd", "in", "out"]

    /// Builds the guest with the project's Makefile (the one recipe) and returns its path.
    static func build() throws -> String {
        let r = try Toolchain.run("make", ["-s", "out/guest64/guest64.elf"], in: Toolchain.packageRoot)
        guard r.succeeded else { throw CorpusError("cannot build the x86_64 guest: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/guest64/guest64.elf").path
    }

    /// Boots `kernel` on qemu-system-x86_64 (TCG) with `append` as the PVH command line.
    static func boot(_ kernel: String, _ append: String) throws -> CommandResult {
        try Toolchain.run("timeout", [
            "60", "qemu-system-x86_64", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", kernel, "-append", append,
        ])
    }

    /// A copy of `kernel` in `dir` with the instruction of the last cpuid site overwritten by a NOP;
    /// returns the copy's path and the victim site.
    static func tamperedCopy(of kernel: String, in dir: URL) throws -> (path: String, note: Int, address: UInt64) {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))
        let sites = try ELFFile(bytes: bytes).previrtNotes().sites
        let victim = try #require(sites.last { $0.record.kind?.name == "cpuid" })
        let text = try #require(victim.section)
        bytes[Int(text.offset + victim.sectionOffset) + victim.record.instructionOffset] = 0x90
        let copy = dir.appendingPathComponent("tampered64.elf")
        try Data(bytes).write(to: copy)
        return (copy.path, victim.note.index, victim.address)
    }
}

@Suite("x86_64 demo guest on QEMU", .serialized)
struct Guest64Tests {
    @Test("backend native: the PVH entry boots the 64-bit ELF; the transcript, and the pass status")
    func native() throws {
        let r = try Guest64.boot(try Guest64.build(), "previrt=native")
        #expect(r.output == Guest64.transcript)
        #expect(r.status == Guest.passStatus)
    }

    @Test("backend trace: the same transcript, then the counts; every site patched, every exercised kind counted")
    func trace() throws {
        let kernel = try Guest64.build()
        let r = try Guest64.boot(kernel, "previrt=trace")
        #expect(r.status == Guest.passStatus)
        #expect(r.output.hasPrefix(Guest64.transcript))
        let counts = r.output.dropFirst(Guest64.transcript.count).split(separator: "\n")
        let sites = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))).previrtNotes().sites
        #expect(counts.first == "trace: \(sites.count) sites patched, 0 left native")
        let ran = Set(counts.dropFirst().compactMap { $0.split(separator: " ").dropFirst(3).first.map(String.init) })
        for kind in Guest64.exercisedKinds {
            #expect(ran.contains(kind), "\(kind) never ran")
        }
    }

    @Test("a tampered copy is refused on QEMU, naming the site, and nothing is patched", arguments: ["native", "trace"])
    func tampered(_ backend: String) throws {
        let kernel = try Guest64.build()
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = try Guest64.tamperedCopy(of: kernel, in: dir)
        let r = try Guest64.boot(copy.path, "previrt=\(backend)")
        #expect(r.status == Guest.failStatus)
        #expect(r.output == "previrt: refused to patch: note \(copy.note), site 0x\(String(format: "%08x", copy.address)): "
            + "wrong instruction: the bytes at the site are not the recorded instruction; nothing was patched\n")
    }
}
