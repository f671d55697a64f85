// SPDX-License-Identifier: GPL-3.0-or-later
// ELF e_machine names, read from real files: the words a message uses instead of "architecture unknown".

import Foundation
import PrevirtNote
import Testing

@Suite("ELF e_machine names")
struct ELFMachineTests {
    @Test("objects the real toolchain builds: i386 and x86-64, read in their byte order")
    func realObjects() throws {
        let w = try Workbench()
        try w.write("a.s", ".text\nnop\n")
        try w.run("as", ["--32", "a.s", "-o", "a32.o"])
        try w.run("as", ["--64", "a.s", "-o", "a64.o"])
        #expect(ELFMachine.read(fromHeader: try w.bytes("a32.o")) == ELFMachine.i386)
        #expect(ELFMachine.read(fromHeader: try w.bytes("a64.o")) == ELFMachine.x86_64)
        #expect(ELFMachine.describe(ELFMachine.x86_64) == "e_machine 62 (x86-64)")
    }

    @Test("a foreign e_machine is named", arguments: [
        (UInt16(183), "aarch64"), (40, "arm"), (243, "riscv"), (8, "mips"), (21, "powerpc64"), (22, "s390"), (258, "loongarch"),
    ])
    func foreign(_ machine: UInt16, _ name: String) throws {
        // A real x86-64 object with e_machine rewritten, little- and big-endian.
        let w = try Workbench()
        try w.write("a.s", ".text\nnop\n")
        try w.run("as", ["--64", "a.s", "-o", "a.o"])
        var bytes = try w.bytes("a.o")
        bytes[18] = UInt8(machine & 0xff)
        bytes[19] = UInt8(machine >> 8)
        #expect(ELFMachine.read(fromHeader: bytes) == machine)
        #expect(ELFMachine.name(of: machine) == name)
        #expect(ELFMachine.describe(machine) == "e_machine \(machine) (\(name))")
        bytes[5] = 2
        bytes[18] = UInt8(machine >> 8)
        bytes[19] = UInt8(machine & 0xff)
        #expect(ELFMachine.read(fromHeader: bytes) == machine)
    }

    @Test("not ELF, too short, an unknown byte order or value: nil, or the bare number")
    func unusable() {
        #expect(ELFMachine.read(fromHeader: Array("not an ELF file at all".utf8)) == nil)
        #expect(ELFMachine.read(fromHeader: [0x7f, 0x45, 0x4c, 0x46, 2, 1]) == nil)
        #expect(ELFMachine.read(fromHeader: [0x7f, 0x45, 0x4c, 0x46, 2, 9] + [UInt8](repeating: 0, count: 14)) == nil)
        #expect(ELFMachine.name(of: 0xfffe) == nil)
        #expect(ELFMachine.describe(0xfffe) == "e_machine 65534")
    }
}
