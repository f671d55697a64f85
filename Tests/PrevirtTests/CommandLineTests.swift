// SPDX-License-Identifier: GPL-3.0-or-later
// The previrt command: output, errors written for people, exit codes, no half-written files.

import Foundation
import Testing

@Suite("previrt command line")
struct CommandLineTests {

    func run(_ args: [String], in dir: URL? = nil) throws -> CommandResult {
        try #require(FileManager.default.isExecutableFile(atPath: Fixture.previrt), "build the tool first: swift build")
        return try Toolchain.run(Fixture.previrt, args, in: dir)
    }

    @Test("previrt macros writes the same text as the committed macro set")
    func macros() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try run(["macros", "--arch", "x86_64", "-o", "m.s"], in: dir).succeeded)
        let written = try String(contentsOf: dir.appendingPathComponent("m.s"), encoding: .utf8)
        let committed = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Macros/previrt-x86_64.s"), encoding: .utf8)
        #expect(written == committed)
        let toStdout = try run(["macros", "--arch", "i386"])
        #expect(toStdout.output.hasPrefix("# previrt macro set for GNU as: i386, profile default."))
    }

    @Test("bad input: a clear message, a failing exit status, and no output file", arguments: [
        (["macros", "--arch", "arm64", "-o", "x.s"], "arm64"),
        (["macros", "--arch", "x86_64", "--profile", "fast", "-o", "x.s"], "unknown profile 'fast'"),
        (["macros", "--arch", "x86_64", "--pad", "65", "-o", "x.s"], "--pad 65 is out of range"),
        (["macros", "--arch", "x86_64", "-o", "no/such/dir/x.s"], "does not exist"),
    ])
    func badInput(_ args: [String], _ message: String) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try run(args, in: dir)
        #expect(!r.succeeded)
        #expect(r.output.contains(message), "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("a failed write leaves an existing output file as it was")
    func keepsOldFile() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("m.s")
        try "old\n".write(to: target, atomically: true, encoding: .utf8)
        let r = try run(["macros", "--arch", "x86_64", "--profile", "nope", "-o", target.path])
        #expect(!r.succeeded)
        #expect(try String(contentsOf: target, encoding: .utf8) == "old\n")
    }

    @Test("previrt catalog --json lists every kind with id, name, spellings and pad")
    func catalogJSON() throws {
        let r = try run(["catalog", "--json"])
        try #require(r.succeeded)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]])
        let names = entries.compactMap { $0["name"] as? String }
        for required in ["cli", "sti", "pushf", "popf", "hlt", "mov-to-cr", "mov-from-cr", "mov-to-dr", "mov-from-dr",
                         "mov-to-seg", "mov-from-seg", "push-seg", "pop-seg", "lgdt", "lidt", "lldt", "ltr", "sgdt", "sidt",
                         "sldt", "str", "smsw", "lmsw", "clts", "lar", "lsl", "verr", "verw", "arpl", "in", "out", "ins",
                         "outs", "rdmsr", "wrmsr", "invlpg", "invd", "wbinvd", "invpcid", "iret", "lret", "ljmp", "lcall",
                         "int", "cpuid", "lds", "les", "lfs", "lgs", "lss", "swapgs", "sysret", "sysexit", "rsm"] {
            #expect(names.contains(required), "\(required)")
        }
        for entry in entries {
            #expect(entry["id"] is Int && entry["spellings"] is [String] && entry["pad"] is [String: Any])
        }
        let rdtsc = try #require(entries.first { $0["name"] as? String == "rdtsc" })
        #expect((rdtsc["profiles"] as? [String]) == ["all"])
    }

    @Test("--help explains each command")
    func help() throws {
        for command in ["macros", "catalog", "inspect", "note-header"] {
            let r = try run([command, "--help"])
            #expect(r.succeeded)
            #expect(r.output.contains("USAGE: previrt \(command)"))
        }
        #expect(try run(["macros", "--help"]).output.contains("-Wa,previrt.s,-"))
    }
}
