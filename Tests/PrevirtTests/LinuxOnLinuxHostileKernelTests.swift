// SPDX-License-Identifier: GPL-3.0-or-later
// Linux-on-Linux (issue 10): a hostile or oversized vmlinux. The linux-user VMM reads the kernel's
// headers and notes with pread and its segments straight into guest RAM (Hosts/linux-user/loader.c),
// never mapping the file, so a large file no longer takes the addresses guest RAM needs; every header,
// offset and size is checked first (elf_check.c), and the message says what is wrong with the file.

import Foundation
import Testing

@Suite("Linux-on-Linux: a hostile vmlinux is refused with a message, a large one still boots")
struct LinuxOnLinuxHostileKernelTests {
    static let mib300: UInt64 = 300 << 20

    /// Writes `image`, extended (sparse) to `size` bytes if given, into a scratch directory; runs
    /// `previrt run` on it as the tests boot the kernel.
    static func run(_ image: GuestImage, size: UInt64? = nil, extra: [String] = []) throws -> (path: String, result: CommandResult) {
        let dir = try Toolchain.scratch()
        let path = dir.appendingPathComponent("vmlinux").path
        try Data(image.bytes).write(to: URL(fileURLWithPath: path))
        if let size {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.truncate(atOffset: size)
            try handle.close()
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = LinuxKernel.lines(try Toolchain.run("timeout", ["-s", "KILL", "120", Fixture.previrt, "run", "--timeout", "60"] + extra
                                                    + ["--append", LinuxKernel.append, path]))
        return (path, r)
    }

    static func vmlinux() throws -> GuestImage {
        GuestImage(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: try LinuxKernel.path()))))
    }

    @Test("a vmlinux padded to 300 MiB (sparse) boots: the file is read, not mapped where guest RAM goes")
    func paddedKernelBoots() throws {
        let (_, r) = try Self.run(try Self.vmlinux(), size: Self.mib300)
        #expect(r.output.contains("Linux version 6.1."), "\(r.output.prefix(2000))")
        #expect(r.output.contains("Kernel panic - not syncing: No working init found."), "\(r.output.suffix(2000))")
        #expect(!r.output.contains("mappings are in the way") && !r.output.contains("the host put"), "\(r.output.prefix(2000))")
        #expect(r.status == 0, "\(r.output.suffix(1000))")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let size: UInt64?
        var extra: [String] = []
        let edit: @Sendable (inout GuestImage) -> Void
        let message: @Sendable (GuestImage) -> String
        var testDescription: String { name }
    }

    /// Offsets of a program header's fields.
    static let offset = 4, vaddr = 8, paddr = 12, filesz = 16, memsz = 20

    static let cases: [Case] = [
        Case(name: "a 300 MiB segment in a 300 MiB sparse file: too large for guest RAM", size: (300 << 20) + 0x20_0000, edit: { g in
            let ph = g.programHeader(g.loads[1])
            g.set32(ph + filesz, 300 << 20)
            g.set32(ph + memsz, 300 << 20)
        }, message: { g in
            let end = UInt64(g.u32(g.programHeader(g.loads[1]) + paddr)) + (300 << 20)
            return "too large for guest RAM: its segments end at physical 0x\(String(end, radix: 16)) (\((end + (1 << 20) - 1) >> 20) MiB), "
                + "and guest RAM is at most 144 MiB"
        }),
        Case(name: "a segment past the end of the file", size: nil, edit: { g in
            let ph = g.programHeader(g.loads[1])
            g.set32(ph + filesz, g.u32(ph + memsz))
        }, message: { g in
            let ph = g.programHeader(g.loads[1])
            return "program header \(g.loads[1]): p_offset \(g.hex(g.u32(ph + offset))) + p_filesz \(g.hex(g.u32(ph + memsz))) "
                + "runs past the end of the file (\(g.bytes.count) bytes)"
        }),
        Case(name: "overlapping segments", size: nil, edit: { g in
            let first = g.programHeader(g.loads[0]), second = g.programHeader(g.loads[1])
            g.set32(second + vaddr, g.u32(first + vaddr) + 0x1000)
            g.set32(second + paddr, g.u32(first + paddr) + 0x1000)
        }, message: { g in
            let first = g.u32(g.programHeader(g.loads[0]) + vaddr)
            return "program header \(g.loads[1]): the PT_LOAD at \(g.hex(first + 0x1000)) shares a page with the one at \(g.hex(first))"
        }),
        Case(name: "a segment whose virtual addresses wrap past 4 GiB", size: nil, edit: { g in
            g.set32(g.programHeader(g.loads[1]) + vaddr, 0xffff_f000)
        }, message: { g in
            "program header \(g.loads[1]): p_vaddr 0xfffff000 + p_memsz \(g.hex(g.u32(g.programHeader(g.loads[1]) + memsz))) wraps past 4 GiB"
        }),
        Case(name: "a segment whose physical addresses wrap past 4 GiB", size: nil, edit: { g in
            g.set32(g.programHeader(g.loads[1]) + paddr, 0xffff_f000)
        }, message: { g in
            "program header \(g.loads[1]): p_paddr 0xfffff000 + p_memsz \(g.hex(g.u32(g.programHeader(g.loads[1]) + memsz))) wraps past 4 GiB"
        }),
        Case(name: "p_filesz larger than p_memsz", size: nil, edit: { g in
            let ph = g.programHeader(g.loads[1])
            g.set32(ph + filesz, g.u32(ph + memsz) + 0x1000)
        }, message: { g in
            let ph = g.programHeader(g.loads[1])
            return "program header \(g.loads[1]): p_filesz \(g.hex(g.u32(ph + memsz) + 0x1000)) is larger than p_memsz \(g.hex(g.u32(ph + memsz)))"
        }),
        Case(name: "a note segment larger than the VMM reads (17 MiB, in a sparse file)", size: 0x0200_0000, edit: { g in
            let data = g.programHeader(g.loads[1])
            g.set32(data + filesz, 0x0140_0000)
            g.set32(data + memsz, 0x0140_0000)
            let note = g.programHeader((0..<g.phnum).first { g.u32(g.programHeader($0)) == 4 }!)
            g.set32(note + offset, g.u32(data + offset))
            g.set32(note + vaddr, g.u32(data + vaddr))
            g.set32(note + paddr, g.u32(data + paddr))
            g.set32(note + filesz, 0x0110_0000)
            g.set32(note + memsz, 0x0110_0000)
        }, message: { g in
            "\(0x0110_0000) bytes of headers, names or notes at offset \(g.hex(g.u32(g.programHeader(g.loads[1]) + offset))): "
                + "more than the VMM reads (16 MiB)"
        }),
        Case(name: "a segment outside a small --memory", size: nil, extra: ["--memory", "16"], edit: { _ in }, message: { g in
            let ph = g.programHeader(g.loads[0])
            let begin = g.u32(ph + paddr), size = g.u32(ph + memsz)
            return "the segment at physical \(g.hex(begin))-\(g.hex(begin + size)) (\(size) bytes) is not inside guest RAM above 0x11000 (--memory 16)"
        }),
    ]

    @Test("each hostile vmlinux: exit 2 and a message that names what is wrong, no signal, nothing run", arguments: cases)
    func refused(_ c: Case) throws {
        var image = try Self.vmlinux()
        let message = c.message(image)
        c.edit(&image)
        let (path, r) = try Self.run(image, size: c.size, extra: c.extra)
        #expect(r.status == 2, "\(c.name): status \(r.status): \(r.output.prefix(1000))")
        #expect(r.output.hasPrefix("previrt run: \(path): \(message)"), "\(c.name): \(r.output.prefix(1000))")
        #expect(!r.output.contains("Linux version"), "\(c.name) ran")
    }
}
