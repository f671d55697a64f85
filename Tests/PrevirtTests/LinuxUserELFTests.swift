// SPDX-License-Identifier: GPL-3.0-or-later
// The linux-user VMM trusts no field of the guest's ELF file: each hostile variant of the real demo
// guest (one field edited) is refused with exit status 2 and a message, before anything is mapped.

import Foundation
import Testing

/// The demo guest's bytes with accessors for the fields the variants edit (ELF32, little-endian).
struct GuestImage {
    var bytes: [UInt8]

    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    mutating func set16(_ at: Int, _ v: Int) { bytes[at] = UInt8(v & 0xff); bytes[at + 1] = UInt8(v >> 8 & 0xff) }
    mutating func set32(_ at: Int, _ v: UInt32) { for i in 0..<4 { bytes[at + i] = UInt8(v >> (8 * UInt32(i)) & 0xff) } }

    var phoff: Int { Int(u32(28)) }
    var shoff: Int { Int(u32(32)) }
    var phnum: Int { u16(44) }
    var shnum: Int { u16(48) }
    var shstrndx: Int { u16(50) }
    func programHeader(_ i: Int) -> Int { phoff + 32 * i }
    func sectionHeader(_ i: Int) -> Int { shoff + 40 * i }

    func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
    /// The index, address and size of the .note.previrt section.
    var notes: Int { section(".note.previrt")! }
    var notesAddress: UInt32 { u32(sectionHeader(notes) + 12) }
    var notesSize: UInt32 { u32(sectionHeader(notes) + 20) }
    /// The address of the guest's writable, non-executable PT_LOAD (its .bss).
    var bss: UInt32 { u32(programHeader(loads.first { u32(programHeader($0) + 24) & 1 == 0 }!) + 8) }

    /// Indices of the PT_LOAD program headers.
    var loads: [Int] { (0..<phnum).filter { u32(programHeader($0)) == 1 } }

    /// The index of the section called `name`.
    func section(_ name: String) -> Int? {
        let names = Int(u32(sectionHeader(shstrndx) + 16))
        return (0..<shnum).first { i in
            let start = names + Int(u32(sectionHeader(i)))
            let end = bytes[start...].firstIndex(of: 0) ?? start
            return String(decoding: bytes[start..<end], as: UTF8.self) == name
        }
    }

    /// The first PreVirt site note's offset field (relative to its own address): its file offset, its
    /// address, and the note's index.
    var firstSiteField: (fileOffset: Int, address: UInt32, note: Int)? {
        guard let notes = section(".note.previrt") else { return nil }
        let start = Int(u32(sectionHeader(notes) + 16)), address = u32(sectionHeader(notes) + 12)
        let end = start + Int(u32(sectionHeader(notes) + 20))
        var offset = start, index = 0
        while offset + 12 <= end {
            let namesz = Int(u32(offset)), descsz = Int(u32(offset + 4)), type = u32(offset + 8)
            let desc = offset + 12 + (namesz + 3) / 4 * 4
            if type == 0x5056_0002 { return (desc, address + UInt32(desc - start), index) }
            offset = desc + (descsz + 3) / 4 * 4
            index += 1
        }
        return nil
    }
}

@Suite("linux-user VMM: hostile ELF files are refused with exit 2 and a message", .serialized)
struct LinuxUserELFTests {
    /// Each variant: a name, the edit, and what the message must say.
    struct Variant: Sendable {
        let name: String
        let edit: @Sendable (inout GuestImage) -> Void
        /// The message, computed from the unedited guest (its layout changes whenever the guest does).
        let message: @Sendable (GuestImage) -> String
        init(_ name: String, _ edit: @escaping @Sendable (inout GuestImage) -> Void, _ message: @escaping @Sendable (GuestImage) -> String) {
            self.name = name
            self.edit = edit
            self.message = message
        }
        init(_ name: String, _ edit: @escaping @Sendable (inout GuestImage) -> Void, _ message: String) {
            self.init(name, edit, { _ in message })
        }
    }

    static let variants: [Variant] = [
        Variant("e_phnum 0", { $0.set16(44, 0) }, "e_phnum 0: no program headers, nothing to load"),
        Variant("no PT_LOAD", { g in for i in g.loads { g.set32(g.programHeader(i), 0) } }, "no PT_LOAD segment: nothing to load"),
        Variant("e_phoff beyond the file", { $0.set32(28, 0xffff_fff0) }, { g in "e_phoff 0xfffffff0 + \(g.phnum) program headers runs past the end of the file" }),
        Variant("e_shoff beyond the file", { $0.set32(32, 0xffff_ff00) }, { g in "e_shoff 0xffffff00 + \(g.shnum) section headers runs past the end of the file" }),
        Variant("p_offset beyond the file", { g in g.set32(g.programHeader(g.loads[0]) + 4, 0xffff_f000) },
         { g in "program header \(g.loads[0]): p_offset 0xfffff000 + p_filesz \(g.hex(g.u32(g.programHeader(g.loads[0]) + 16))) runs past the end of the file" }),
        Variant("p_vaddr + p_memsz wraps", { g in g.set32(g.programHeader(g.loads[1]) + 8, 0xffff_f000) },
         { g in "program header \(g.loads[1]): p_vaddr 0xfffff000 + p_memsz \(g.hex(g.u32(g.programHeader(g.loads[1]) + 20))) wraps past 4 GiB" }),
        Variant("corrupt e_shstrndx", { $0.set16(50, 200) }, { g in "e_shstrndx 200 is not a section (there are \(g.shnum))" }),
        Variant("corrupt sh_name", { g in g.set32(g.sectionHeader(2), 0x7fff_ffff) }, "section 2: sh_name 0x7fffffff runs past the section name table"),
        Variant("PT_LOAD at address 0", { g in g.set32(g.programHeader(g.loads[0]) + 8, 0) },
         "program header 0: a PT_LOAD at 0, below 0x10000, where Linux maps nothing"),
        Variant("PT_LOAD over the VMM", { g in
            g.set32(g.programHeader(g.loads[1]) + 8, 0xe800_0000)
            g.set32(g.programHeader(g.loads[1]) + 12, 0xe800_0000)
        }, { g in "program header \(g.loads[1]): the PT_LOAD at 0xe8000000-\(g.hex(0xe800_0000 + g.u32(g.programHeader(g.loads[1]) + 20))) overlaps the VMM's region (reservetop) (0xe8000000-" }),
        Variant("note area unmapped", { g in g.set32(g.sectionHeader(g.section(".note.previrt")!) + 12, 0x5000_0000) },
         { g in "section \(g.notes): the note area 0x50000000 + \(g.hex(g.notesSize)) is not inside the file-backed part of a PT_LOAD segment" }),
        Variant("note area of absurd size", { g in g.set32(g.sectionHeader(g.section(".note.previrt")!) + 20, 0xffff_ff00) },
         { g in "section \(g.notes): the note area \(g.hex(g.notesAddress)) + 0xffffff00 is not inside the file-backed part of a PT_LOAD segment" }),
        Variant("note area wrapping", { g in
            g.set32(g.sectionHeader(g.section(".note.previrt")!) + 12, 0xffff_ff00)
            g.set32(g.sectionHeader(g.section(".note.previrt")!) + 20, 0x200)
        }, { g in "section \(g.notes): the note area 0xffffff00 + 0x200 is not inside the file-backed part of a PT_LOAD segment" }),
        Variant("note area in .bss (not in the file)", { g in g.set32(g.sectionHeader(g.section(".note.previrt")!) + 12, g.bss) },
         { g in "section \(g.notes): the note area \(g.hex(g.bss)) + \(g.hex(g.notesSize)) is not inside the file-backed part of a PT_LOAD segment" }),
        Variant("a site in .bss (not in the file)", { g in
            let (field, address, _) = g.firstSiteField!
            g.set32(field, (g.bss + 0x100) &- address)
        }, { g in "note 1: the site at \(g.hex(g.bss + 0x100)) (5 bytes) is not inside the file-backed part of a PT_LOAD segment of the guest" }),
        Variant("a site in the VMM's own memory", { g in
            let (field, address, _) = g.firstSiteField!
            g.set32(field, 0xe810_0000 &- address)
        }, "note 1: the site at 0xe8100000 (5 bytes) is not inside the file-backed part of a PT_LOAD segment of the guest"),
        Variant("the entry point outside the text", { $0.set32(24, $0.bss) }, { g in "the entry point \(g.hex(g.bss)) is not inside an executable PT_LOAD segment" }),
        Variant("not ELF32 i386", { $0.set16(18, 183) }, "not an ELF32 i386 executable"),
    ]

    @Test("each hostile variant of the demo guest: exit 2, a message, nothing run", arguments: 0..<variants.count)
    func refused(_ index: Int) throws {
        let variant = Self.variants[index]
        var image = GuestImage(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: try Guest.build()))))
        let (name, edit, message) = (variant.name, variant.edit, variant.message(image))
        edit(&image)
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("hostile.elf").path
        try Data(image.bytes).write(to: URL(fileURLWithPath: path))
        let r = try runUnderLinuxUser(path)
        #expect(r.status == 2, "\(name): \(r.output)")
        #expect(r.output.hasPrefix("previrt run: \(path): \(message)"), "\(name): \(r.output)")
        #expect(!r.output.contains("previrt demo guest"), "\(name) ran")
    }

    @Test("without section headers the notes come from the PT_NOTE segment, and the guest still runs")
    func noSectionHeaders() throws {
        var image = GuestImage(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: try Guest.build()))))
        image.set32(32, 0)
        image.set16(48, 0)
        image.set16(50, 0)
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("no-sections.elf").path
        try Data(image.bytes).write(to: URL(fileURLWithPath: path))
        let r = try runUnderLinuxUser(path)
        #expect(r.output == Guest.transcript)
        #expect(r.status == Guest.passStatus)
    }

    /// Inputs kept from the libFuzzer corpus of Fuzz/linux_user_elf_fuzzer.c (one per distinct refusal):
    /// the real VMM refuses each with a message, never a signal.
    @Test("the ELF fuzzer's regression inputs are refused with exit 2 and a message", arguments: try regressionInputs())
    func regression(_ name: String) throws {
        _ = try Guest.build()
        let path = Toolchain.packageRoot.appendingPathComponent("Tests/Regressions/linux-user-elf/\(name)").path
        let r = try Toolchain.run("timeout", ["-s", "KILL", "10", Fixture.previrt, "run", path])
        #expect(r.status == 2, "\(name): \(r.status) \(r.output)")
        #expect(r.output.hasPrefix("previrt run: "), "\(name): \(r.output)")
    }

    static func regressionInputs() throws -> [String] {
        let dir = Toolchain.packageRoot.appendingPathComponent("Tests/Regressions/linux-user-elf")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
    }
}
