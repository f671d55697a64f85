// SPDX-License-Identifier: GPL-3.0-or-later
// One exit-status convention for every previrt command (Docs/cli.md): 0 ok, 1 findings, 2 bad input or
// an error, 64 usage.

import Foundation
import Testing

@Suite("previrt exit status")
struct ExitStatusTests {
    /// A clean object, an object with an unannotated cli, and a file that is not ELF, in `dir`.
    static func inputs(_ w: Workbench) throws {
        try w.assemble("clean", ".text\ncli\nret\n")
        try w.assemble("finding", ".text\ncli\nret\n", macros: false)
        try w.write("text.txt", "not an object\n")
    }

    static let ok: [[String]] = [
        ["catalog"], ["catalog", "--json"], ["macros", "--arch", "i386"], ["macros", "--arch", "x86_64", "-o", "m.s"],
        ["note-header", "-o", "n.h"], ["inspect", "--verify", "--coverage", "clean.o"], ["as", "--version"],
        ["--help"], ["macros", "--help"],
    ]
    static let findings: [[String]] = [["inspect", "--coverage", "finding.o"]]
    static let errors: [[String]] = [
        ["inspect", "text.txt"], ["inspect", "missing.o"],
        ["macros", "--arch", "x86_64", "-o", "."], ["macros", "--arch", "x86_64", "-o", ""],
        ["macros", "--arch", "x86_64", "-o", "no/such/dir/m.s"], ["note-header", "-o", "."],
    ]
    static let usage: [[String]] = [
        ["macros", "--arch", "x86_64", "--pad", "65"], ["macros", "--arch", "x86_64", "--pad", "-1"],
        ["macros", "--arch", "x86_64", "--profile", "bogus"], ["macros", "--arch", "arm64"], ["macros"],
        ["catalog", "--profile", "bogus"], ["catalog", "--bogus"], ["note-header", "extra"], ["inspect"],
        ["inspect", "--bogus", "clean.o"], ["run"], ["run", "--bogus", "guest.elf"], ["frobnicate"],
    ]
    static let table: [([String], Int32)] =
        ok.map { ($0, 0) } + findings.map { ($0, 1) } + errors.map { ($0, 2) } + usage.map { ($0, 64) }

    @Test("every command: 0 ok, 1 findings, 2 bad input or error, 64 usage", arguments: table)
    func status(_ args: [String], _ expected: Int32) throws {
        let w = try Workbench()
        try Self.inputs(w)
        let r = try Toolchain.run(Fixture.previrt, args, in: w.dir)
        #expect(r.status == expected, "previrt \(args.joined(separator: " ")): \(r.output.prefix(400))")
        if expected == 2 || expected == 64 { #expect(r.output.contains("rror"), "\(r.output.prefix(400))") }
    }

    @Test("a failed write (standard output on /dev/full, -o /dev/full) is exit 2 with a message, not a crash or a lost report", arguments: [
        "catalog > /dev/full", "catalog --json > /dev/full", "macros --arch x86_64 > /dev/full",
        "macros --arch x86_64 -o /dev/full", "note-header -o /dev/full", "inspect clean.o > /dev/full",
        "inspect --json clean.o > /dev/full",
    ])
    func fullDisk(_ command: String) throws {
        let w = try Workbench()
        try Self.inputs(w)
        // -o names a copy of /dev/full where root can make one: a tool that replaced its target (as
        // previrt once did) would replace only the copy.
        var command = command
        if getuid() == 0, mknod(w.path("full"), S_IFCHR | 0o666, OutputFileTests.device(1, 7)) == 0 {
            command = command.replacingOccurrences(of: "-o /dev/full", with: "-o full")
        }
        let r = try Toolchain.run("/bin/sh", ["-c", "\(Fixture.previrt) \(command)"], in: w.dir)
        #expect(r.status == 2, "\(command): \(r.output.prefix(300))")
        #expect(r.output.contains("No space left on device"), "\(command): \(r.output.prefix(300))")
    }

    @Test("previrt as leaves with the real assembler's status (1 for an assembly error), 2 when it cannot run one")
    func assembler() throws {
        let w = try Workbench()
        try w.write("bad.s", ".text\nbogus_insn\n")
        let bad = try Toolchain.run(Fixture.previrt, ["as", "--64", "bad.s", "-o", "bad.o"], in: w.dir)
        let real = try Toolchain.run("as", ["--64", "bad.s", "-o", "real.o"], in: w.dir)
        #expect(bad.status == real.status && bad.status == 1)
        let none = try Toolchain.run("/usr/bin/env", ["PREVIRT_AS=", "PATH=\(w.dir.path)", Fixture.previrt, "as", "--64", "bad.s"], in: w.dir)
        #expect(none.status == 2 && none.output.contains("cannot find the real GNU assembler"), "\(none.output)")
    }
}
