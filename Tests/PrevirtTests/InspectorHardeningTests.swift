// SPDX-License-Identifier: GPL-3.0-or-later
// previrt inspect on hostile and unusual input (issue 11): sites too short for a backend, duplicate and
// overlapping sites, files that are not regular files, many sites, sizes and addresses that cannot be
// true, coverage across sections that all start at 0, notes in any note section or only in segments,
// and the inputs the inspector fuzzer found. Every file is built here by the real toolchain.

import Foundation
import PrevirtBinutils
import PrevirtCatalog
import PrevirtELF
import PrevirtInspector
import PrevirtMacros
import Testing

/// The built CLI, run as a process: a crash is then a signal in a status, not a dead test runner.
enum InspectCLI {
    static var previrt: String { Toolchain.packageRoot.appendingPathComponent(".build/debug/previrt").path }

    /// `previrt ARGS` under `timeout`, so that a hang fails (status 124) instead of blocking the tests.
    static func run(_ arguments: [String], in dir: URL, seconds: Int = 60) throws -> CommandResult {
        try Toolchain.run("/usr/bin/timeout", ["-s", "KILL", "\(seconds)", previrt] + arguments, in: dir)
    }
}

/// Edits an ELF64 file's headers in place, as a hostile producer would.
struct ELF64Editor {
    var bytes: [UInt8]

    init(_ path: String) throws { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func write(_ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    mutating func put(_ value: UInt64, at offset: Int, size: Int) {
        for i in 0..<size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    func get(_ offset: Int, size: Int) -> UInt64 {
        (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    /// The file offset of the section header of `name`.
    func header(of name: String) throws -> Int {
        let elf = try ELFFile(bytes: bytes)
        let section = try #require(elf.section(named: name), "no section \(name)")
        return Int(get(0x28, size: 8)) + section.index * Int(get(0x3a, size: 2))
    }

    mutating func setSize(of name: String, _ size: UInt64) throws { put(size, at: try header(of: name) + 0x20, size: 8) }
    mutating func setAddress(of name: String, _ address: UInt64) throws { put(address, at: try header(of: name) + 0x10, size: 8) }

    /// Removes the section header table from the ELF header (e_shoff, e_shnum, e_shstrndx = 0).
    mutating func dropSectionHeaders() {
        put(0, at: 0x28, size: 8)
        put(0, at: 0x3c, size: 2)
        put(0, at: 0x3e, size: 2)
    }
}

@Suite("previrt inspect: sites too short, duplicate or overlapping")
struct InspectorSiteHardeningTests {
    /// A macro set made by the CLI, as a user would: `previrt macros --arch ARCH --pad N`.
    static func macros(_ w: Workbench, _ arch: Architecture, pad: Int?) throws -> String {
        let name = "macros-\(arch.rawValue)-\(pad.map(String.init) ?? "default").s"
        var args = ["macros", "--arch", arch.rawValue, "-o", name]
        if let pad { args += ["--pad", "\(pad)"] }
        let r = try InspectCLI.run(args, in: w.dir)
        #expect(r.status == 0, "\(r.output)")
        return w.path(name)
    }

    @Test("--pad 0 and --pad 1: --verify names the backends each site is too short for, in the table and the JSON",
          arguments: [(Architecture.i386, 0), (.i386, 1), (.x86_64, 0), (.x86_64, 1)])
    func shortSites(_ arch: Architecture, _ pad: Int) throws {
        let w = try Workbench()
        let set = try Self.macros(w, arch, pad: pad)
        try w.write("s.s", ".text\nf:\ncli\nmov %cr3, %eax\nhlt\n".replacingOccurrences(of: "%eax", with: arch == .i386 ? "%eax" : "%rax"))
        try w.run("as", [arch == .i386 ? "--32" : "--64", set, "s.s", "-o", "s.o"])
        let expected = arch == .i386 ? ["trace", "linux-user"] : ["trace", "xen"]

        let report = w.inspect(["s.o"], InspectionOptions(verify: true))
        let sites = report.files[0].sites
        #expect(sites.count == 3)
        for site in sites {
            #expect(site.site_len == site.insn_len + pad)
            #expect(site.status == .ok, "the instruction itself verifies")
            #expect(site.too_short_for == expected)
        }
        #expect(report.exitStatus == 1)
        let short = report.files[0].diagnostics.filter { $0.code == "short-site" }
        #expect(short.count == 3)
        #expect(short.allSatisfy { $0.severity == .finding && $0.message.contains("too short for \(expected.joined(separator: ", "))") })

        let json = try InspectCLI.run(["inspect", "--verify", "--json", "s.o"], in: w.dir)
        #expect(json.status == 1)
        let document = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let files = try #require(document?["files"] as? [[String: Any]])
        let listed = try #require(files.first?["sites"] as? [[String: Any]])
        #expect(listed.allSatisfy { ($0["too_short_for"] as? [String]) == expected })

        let table = try InspectCLI.run(["inspect", "--verify", "s.o"], in: w.dir)
        #expect(table.status == 1)
        #expect(table.output.contains("[too short for \(expected.joined(separator: ","))]"))
        #expect(table.output.contains("[short-site]"))
    }

    @Test("the default padding fits every backend: no short-site", arguments: Architecture.allCases)
    func defaultPadding(_ arch: Architecture) throws {
        let w = try Workbench()
        let set = try Self.macros(w, arch, pad: nil)
        try w.write("s.s", ".text\nf:\ncli\nhlt\n")
        try w.run("as", [arch == .i386 ? "--32" : "--64", set, "s.s", "-o", "s.o"])
        let report = w.inspect(["s.o"], InspectionOptions(verify: true))
        #expect(report.exitStatus == 0, "\(report.diagnosticsText)")
        #expect(report.files[0].sites.allSatisfy { $0.too_short_for.isEmpty && $0.site_len >= 5 })
    }

    /// A site note written by hand (note-format.md): kind cli (1), instruction 1 byte, site `length` bytes, 64-bit.
    static func cliNote(_ label: String, length: Int) -> String {
        MalformedInputTests.handNote(descriptor: ".long \(label) - .\n.short 1\n.byte 1, \(length), 64, 0\n.short 0")
    }

    @Test("two notes for one site: --verify flags the second as a duplicate, exit 1")
    func duplicate() throws {
        let w = try Workbench()
        let nops = ".byte 0x0f, 0x1f, 0x40, 0x00"  // the 4-byte NOP of the padding
        try w.assemble("d", ".text\n1: cli\n\(nops)\n" + Self.cliNote("1b", length: 5) + Self.cliNote("1b", length: 5), macros: false)
        let report = w.inspect(["d.o"], InspectionOptions(verify: true))
        let sites = report.files[0].sites
        #expect(sites.map(\.status) == [.ok, .duplicate], "\(report.diagnosticsText)")
        #expect(report.files[0].diagnostics.contains { $0.code == "duplicate-site" && $0.message.contains("also described by note 0") })
        #expect(report.exitStatus == 1)

        // Linked, the same two notes are one site too.
        try w.run("ld", ["-e", "0", "-o", "d.elf", "d.o"])
        let r = try InspectCLI.run(["inspect", "--verify", "d.elf"], in: w.dir)
        #expect(r.status == 1)
        #expect(r.output.contains("[duplicate-site]"))
    }

    @Test("the same macro expanded twice at one place (.irp): a duplicate")
    func duplicateByMacro() throws {
        let w = try Workbench()
        // The macro set's `cli` records a note for the cli it emits; a second note for that address is
        // written by hand from the same label.
        try w.assemble("m", ".text\n.irp n, 1\nf\\n: cli\n.endr\n" + Self.cliNote("f1", length: 5))
        let report = w.inspect(["m.o"], InspectionOptions(verify: true))
        #expect(report.files[0].sites.count == 2)
        #expect(report.files[0].diagnostics.contains { $0.code == "duplicate-site" }, "\(report.diagnosticsText)")
        #expect(report.exitStatus == 1)
    }

    @Test("sites whose bytes overlap: the later one is flagged, exit 1")
    func overlapping() throws {
        let w = try Workbench()
        // Site A: cli at 0 with 4 bytes of padding (0..5); site B: a hand-encoded cli at 2, inside A.
        try w.assemble("o", ".text\n1: cli\n.byte 0x0f, 0x1f, 0x40, 0x00\n2: cli\n" + Self.cliNote("1b", length: 5) + Self.cliNote("1b + 2", length: 1), macros: false)
        let report = w.inspect(["o.o"], InspectionOptions(verify: true))
        #expect(report.files[0].diagnostics.contains { $0.code == "overlapping-site" && $0.message.contains("overlaps site 0x0 of note 0") }, "\(report.diagnosticsText)")
        #expect(report.files[0].sites[1].status == .overlapping || report.files[0].sites[1].status.isFinding)
        #expect(report.exitStatus == 1)

        // Adjacent sites do not overlap.
        try w.assemble("a", ".text\n1: cli\n.byte 0x0f, 0x1f, 0x40, 0x00\n2: cli\n.byte 0x0f, 0x1f, 0x40, 0x00\n" + Self.cliNote("1b", length: 5) + Self.cliNote("2b", length: 5), macros: false)
        let adjacent = w.inspect(["a.o"], InspectionOptions(verify: true))
        #expect(adjacent.exitStatus == 0, "\(adjacent.diagnosticsText)")
    }
}

@Suite("previrt inspect: files that are not regular, and sizes that cannot be true")
struct InspectorInputHardeningTests {
    @Test("a FIFO, a directory and a character device are refused at once with exit 2")
    func notRegular() throws {
        let w = try Workbench()
        #expect(mkfifo(w.path("pipe"), 0o600) == 0)
        for (name, what) in [("pipe", "a FIFO"), (w.dir.path, "a directory"), ("/dev/null", "a character device")] {
            let r = try InspectCLI.run(["inspect", "--verify", name], in: w.dir, seconds: 20)
            #expect(r.status == 2, "\(name): status \(r.status) (124 or 137: it blocked): \(r.output)")
            #expect(r.output.contains("cannot inspect \(what): only regular files are read"), "\(r.output)")
            #expect(r.output.contains("[unreadable]"))
        }
    }

    static func object(_ w: Workbench) throws {
        try w.assemble("t", ".text\nf:\ncli\nmov %cr3, %rax\nhlt\n")
        try w.run("ld", ["-e", "0", "-o", "t.elf", "t.o"])
    }

    @Test("a .text that claims 0xfffff000 bytes in a small file: exit 2 unreadable-section, nothing allocated")
    func hugeSection() throws {
        let w = try Workbench()
        try Self.object(w)
        var e = try ELF64Editor(w.path("t.o"))
        try e.setSize(of: ".text", 0xffff_f000)
        try e.write(w.path("huge.o"))
        let start = Date()
        let r = try InspectCLI.run(["inspect", "--verify", "--coverage", "--stats", "huge.o"], in: w.dir)
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains(".text: claims 0xfffff000 bytes at file offset"), "\(r.output)")
        #expect(r.output.contains("[unreadable-section]"))
        #expect(Date().timeIntervalSince(start) < 20)
    }

    @Test("a .text ending past 2^64, two code sections of 2^63 bytes: exit 2, no trap", arguments: ["address", "two-halves"])
    func overflowingSections(_ variant: String) throws {
        let w = try Workbench()
        try w.assemble("t", ".text\nf:\ncli\nmov %cr3, %rax\nhlt\n.section .text.b,\"ax\",@progbits\nhlt\n")
        let name: String
        if variant == "address" {
            try w.run("ld", ["-e", "0", "-o", "t.elf", "t.o"])
            var e = try ELF64Editor(w.path("t.elf"))
            try e.setAddress(of: ".text", 0xffff_ffff_ffff_fff8)  // its 16 bytes wrap past 2^64
            name = "t.elf"
            try e.write(w.path(name))
        } else {
            var e = try ELF64Editor(w.path("t.o"))
            try e.setSize(of: ".text", 1 << 63)
            try e.setSize(of: ".text.b", 1 << 63)
            name = "t.o"
            try e.write(w.path(name))
        }
        for options in [["--coverage"], ["--stats"], ["--verify", "--coverage", "--stats"]] {
            let r = try InspectCLI.run(["inspect"] + options + [name], in: w.dir)
            #expect(r.status == 2, "\(options): \(r.output)")
            #expect(r.output.contains("[unreadable-section]"), "\(options): \(r.output)")
        }
    }

    @Test("many sites in a relocatable object: time per site stays flat (one relocation lookup per note)")
    func linearInSites() throws {
        let w = try Workbench()
        var seconds: [Int: Double] = [:]
        for n in [4_000, 16_000] {
            try w.assemble("n\(n)", ".text\nf:\n.rept \(n)\ncli\n.endr\n")
            var best = Double.infinity
            for _ in 0..<3 {
                let start = Date()
                let report = w.inspect(["n\(n).o"], InspectionOptions())
                best = min(best, Date().timeIntervalSince(start))
                #expect(report.files[0].sites.count == n)
            }
            seconds[n] = best
        }
        // Four times the sites: about four times the time when linear, sixteen when quadratic (measured
        // before the fix, debug build: 2.0 s and 28.4 s, 14x).
        let ratio = seconds[16_000]! / seconds[4_000]!
        #expect(ratio < 10, "4k sites \(seconds[4_000]!) s, 16k sites \(seconds[16_000]!) s: ratio \(ratio)")
    }
}

@Suite("previrt inspect: where notes and sites are found")
struct InspectorPlacementTests {
    @Test("--coverage in a relocatable object: a noted cli at .text+0 does not hide a raw cli at .text.unlikely+0")
    func coverageBySection() throws {
        let w = try Workbench()
        try w.assemble("c", ".text\nf:\ncli\n.section .text.unlikely,\"ax\",@progbits\ng:\n.byte 0xfa\n")
        let report = w.inspect(["c.o"], InspectionOptions(verify: true, coverage: true))
        let found = report.files[0].unannotated ?? []
        #expect(found.count == 1, "\(report.diagnosticsText)")
        #expect(found.first?.section == ".text.unlikely" && found.first?.offset == 0 && found.first?.kind == "cli")
        #expect(report.exitStatus == 1)
    }

    @Test("PreVirt notes in a note section named .note (the vDSO's) or any other SHT_NOTE section are read")
    func anyNoteSection() throws {
        let w = try Workbench()
        try InspectorInputHardeningTests.object(w)
        let original = w.inspect(["t.o"], InspectionOptions(verify: true))
        #expect(original.files[0].sites.count == 3)
        try w.run("objcopy", ["--rename-section", ".note.previrt=.note", "t.o", "dot-note.o"])
        try w.run("objcopy", ["--rename-section", ".note.previrt=.note", "t.elf", "dot-note.elf"])
        try w.run("objcopy", ["--rename-section", ".note.previrt=.vdso.annotations", "t.elf", "other.elf"])
        for name in ["dot-note.o", "dot-note.elf", "other.elf"] {
            let report = w.inspect([name], InspectionOptions(verify: true))
            #expect(report.files[0].sites.count == 3, "\(name): \(report.diagnosticsText)")
            #expect(report.files[0].sites.allSatisfy { $0.status == .ok }, "\(name)")
            #expect(report.exitStatus == 0, "\(name): \(report.diagnosticsText)")
        }
    }

    @Test("an executable without section headers: notes from its PT_NOTE segment, code from its PT_LOAD segments")
    func noSectionHeaders() throws {
        let w = try Workbench()
        try w.assemble("t", ".text\n.globl _start\n_start:\ncli\nmov %cr3, %rax\nhlt\n.byte 0xfa\n")
        try w.run("ld", ["-e", "_start", "-o", "t.elf", "t.o"])
        let segments = try w.run("readelf", ["-lW", "t.elf"]).output
        #expect(segments.contains("NOTE"), "the linker must make a PT_NOTE for .note.previrt: \(segments)")
        var e = try ELF64Editor(w.path("t.elf"))
        e.dropSectionHeaders()
        try e.write(w.path("bare.elf"))
        #expect(try w.run("readelf", ["-SW", "bare.elf"]).output.contains("no sections"))
        let report = w.inspect(["bare.elf"], InspectionOptions(verify: true, coverage: true))
        let sites = report.files[0].sites
        #expect(sites.count == 3, "\(report.diagnosticsText)")
        #expect(sites.allSatisfy { $0.status == .ok && ($0.section ?? "").hasPrefix("PT_LOAD[") }, "\(report.text)")
        #expect((report.files[0].unannotated ?? []).map(\.kind) == ["cli"], "the raw cli after the sites: \(report.text)")
        #expect(report.exitStatus == 1)
    }
}

@Suite("previrt inspect: inputs found by the inspector fuzzer or crafted by hand (Tests/InspectorRegressions)")
struct InspectorFuzzRegressionTests {
    static var directory: URL { Toolchain.packageRoot.appendingPathComponent("Tests/InspectorRegressions") }

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
    }

    @Test("each kept input: a verdict (exit 2), no signal, no hang", arguments: inputs)
    func regression(_ name: String) throws {
        let r = try InspectCLI.run(["inspect", "--verify", "--coverage", "--stats", Self.directory.appendingPathComponent(name).path], in: Self.directory)
        #expect(r.status == 2, "\(name): status \(r.status): \(r.output)")
        #expect(r.output.contains("error: "), "\(name): a message says why")
    }
}

@Suite("libbfd files are closed")
struct BinaryFileLifetimeTests {
    @Test("a BinaryFile goes away with its last reference; its objects keep the file open while they live")
    func closes() throws {
        let w = try Workbench()
        try w.assemble("a", ".text\nf:\ncli\n")
        try w.assemble("b", ".text\ng:\nhlt\n")
        try w.run("ar", ["rcs", "lib.a", "a.o", "b.o"])
        weak var weakFile: BinaryFile?
        var object: ObjectFile?
        do {
            let file = try BinaryFile(path: w.path("lib.a"))
            weakFile = file
            #expect(file.objects.count == 2)
            object = file.objects.last
        }
        // Its objects used to hold the BinaryFile, which holds them: neither was ever freed.
        #expect(weakFile == nil, "the BinaryFile is still alive: a reference cycle")
        let text = try #require(object?.section(named: ".text"))
        let bytes = try #require(try object?.contents(of: text))
        #expect(text.size > 0 && bytes.count == Int(text.size) && bytes.contains(0xf4), "the member's bytes are still readable")
    }
}

@Suite("previrt inspect names what it refuses")
struct InspectorMessageTests {
    @Test("an ELF file for another machine is named by its e_machine (libbfd itself says 'unknown')",
          arguments: [(UInt16(183), "aarch64"), (40, "arm"), (243, "riscv")])
    func otherMachine(_ machine: UInt16, _ name: String) throws {
        let w = try Workbench()
        try w.assemble("f", ".text\ncli\n")
        var bytes = try w.bytes("f.o")
        bytes[18] = UInt8(machine & 0xff)
        bytes[19] = UInt8(machine >> 8)
        try Data(bytes).write(to: URL(fileURLWithPath: w.path("f.o")))
        let report = w.inspect(["f.o"])
        #expect(report.exitStatus == 2)
        let message = try #require(report.files.first?.diagnostics.first { $0.code == "not-x86" }?.message)
        #expect(message.contains("e_machine \(machine) (\(name))"), "\(message)")
    }

    @Test("an archive member for another machine is named by its own header")
    func otherMachineInArchive() throws {
        let w = try Workbench()
        try w.assemble("f", ".text\ncli\n")
        var bytes = try w.bytes("f.o")
        bytes[18] = 183
        bytes[19] = 0
        try Data(bytes).write(to: URL(fileURLWithPath: w.path("f.o")))
        try w.run("ar", ["rcs", "lib.a", "f.o"])
        let report = w.inspect(["lib.a"])
        #expect(report.exitStatus == 2)
        let message = try #require(report.files.first?.diagnostics.first { $0.code == "not-x86" }?.message)
        #expect(message.contains("e_machine 183 (aarch64)"), "\(message)")
    }
}
