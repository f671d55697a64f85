// SPDX-License-Identifier: GPL-3.0-or-later
// C inline asm and .S files through gcc -Wa,MACROS: the route kernels take.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtMacros
import Testing

@Suite("Through gcc")
struct CompilerTests {
    static let example = Toolchain.packageRoot.appendingPathComponent("Examples/annotate")

    /// The kinds Examples/annotate/io.c uses, in order.
    static let ioKinds = ["in", "out", "pushf", "cli", "mov-from-cr", "mov-to-cr", "popf", "mov-to-seg", "mov-from-seg", "sti", "hlt"]

    @Test("C inline asm at -O2 is annotated, for x86_64 and for i386", arguments: Architecture.allCases)
    func inlineAsm(_ arch: Architecture) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let macros = try Toolchain.macroSet(arch)
        let m = arch == .i386 ? ["-m32"] : []
        let src = Self.example.appendingPathComponent("io.c").path
        let plain = try Toolchain.run("gcc", m + ["-O2", "-ffreestanding", "-fno-pic", "-c", src, "-o", "plain.o"], in: dir)
        let annotated = try Toolchain.run("gcc", m + ["-O2", "-ffreestanding", "-fno-pic", "-c", "-Wa,\(macros)", src, "-o", "pv.o"], in: dir)
        try #require(plain.succeeded && annotated.succeeded, "\(plain.output)\(annotated.output)")
        let object = try AnnotatedObject(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("pv.o"))))
        #expect(object.notes.sites.map { $0.record.kind?.name ?? "?" } == Self.ioKinds)
        #expect(object.notes.sites.allSatisfy { Int($0.record.modeBits) == (arch == .i386 ? 32 : 64) })
        // With --pad 0 the code is the plain compiler's, byte for byte.
        let zero = try Toolchain.macroSet(arch, pad: 0)
        #expect(try Toolchain.run("gcc", m + ["-O2", "-ffreestanding", "-fno-pic", "-c", "-Wa,\(zero)", src, "-o", "zero.o"], in: dir).succeeded)
        let plainELF = try ELFFile(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("plain.o"))))
        let zeroELF = try ELFFile(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("zero.o"))))
        #expect(try ObjectComparison.differences(plain: plainELF, annotated: zeroELF).isEmpty)
    }

    @Test("gcc -pipe needs -Wa,FILE,- and then gives the same object")
    func pipe() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let macros = try Toolchain.macroSet(.x86_64)
        let src = Self.example.appendingPathComponent("io.c").path
        let args = ["-O2", "-ffreestanding", "-fno-pic", "-c", src]
        #expect(try Toolchain.run("gcc", args + ["-Wa,\(macros)", "-o", "file.o"], in: dir).succeeded)
        #expect(try Toolchain.run("gcc", args + ["-pipe", "-Wa,\(macros),-", "-o", "pipe.o"], in: dir).succeeded)
        let a = try Data(contentsOf: dir.appendingPathComponent("file.o"))
        let b = try Data(contentsOf: dir.appendingPathComponent("pipe.o"))
        #expect(a == b)
    }

    @Test(".S files with .code16/.code32/.code64 and an opt-out region", arguments: Architecture.allCases)
    func assemblySource(_ arch: Architecture) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = Self.example.appendingPathComponent("entry.S").path
        let r = try Toolchain.run("gcc", (arch == .i386 ? ["-m32"] : []) + ["-c", "-Wa,\(try Toolchain.macroSet(arch))", src, "-o", "e.o"], in: dir)
        try #require(r.succeeded, "\(r.output)")
        let object = try AnnotatedObject(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("e.o"))))
        let sites = object.notes.sites
        #expect(sites.map { $0.record.kind?.name ?? "?" } == ["cli", "lgdt", "mov-from-cr", "mov-to-cr", "ljmp", "mov-to-seg", "mov-to-seg", "outs", "hlt"])
        #expect(sites.map(\.record.modeBits) == [16, 16, 16, 16, 16, 32, 32, 32, arch == .i386 ? 32 : 64])
        #expect(sites[6].record.flags.contains(.paddingPrecedes))    // movw %ax,%ss
        #expect(sites[7].record.flags.contains(.prefixMayPrecede))   // rep; outsb
        // 16-bit sites are padded with 66 90 / 90 only.
        let cli = sites[0]
        #expect(Array(object.text[1..<5]) == [0x66, 0x90, 0x66, 0x90])
        #expect(cli.record.siteLength == 5)
    }
}
