// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as / `previrt as`: a drop-in assembler for builds that can only choose which assembler runs.

import Foundation
import PrevirtMacros
import Testing

@Suite("Drop-in assembler (previrt-as)")
struct DropInAssemblerTests {
    static var tool: String { Toolchain.packageRoot.appendingPathComponent(".build/debug/previrt-as").path }

    @Test("gcc -B with a symlink named as: the same object as the -Wa route", arguments: Architecture.allCases)
    func gccB(_ arch: Architecture) throws {
        let w = try Workbench()
        try FileManager.default.createDirectory(atPath: w.path("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: w.path("bin/as"), withDestinationPath: Self.tool)
        let m = arch == .i386 ? ["-m32"] : []
        let src = InspectorTests.cSource
        try w.run("gcc", m + ["-O2", "-ffreestanding", "-fno-pic", "-B", w.path("bin") + "/", "-c", src, "-o", "dropin.o"])
        try w.run("gcc", m + ["-O2", "-ffreestanding", "-fno-pic", "-c", "-Wa,\(try Toolchain.macroSet(arch))", src, "-o", "wa.o"])
        #expect(try w.bytes("dropin.o") == w.bytes("wa.o"))
        #expect(w.inspect(["dropin.o"]).files[0].sites.count == 11)
    }

    @Test("an input without sensitive instructions is assembled exactly as plain as would")
    func plainInput() throws {
        let w = try Workbench()
        try w.write("p.s", ".text\nf:\nmovq %rax,%rbx\npushq %rbx\nmovq %fs:40,%rax\npopq %rbx\nret\n")
        try w.run(Self.tool, ["--64", "p.s", "-o", "a.o"])
        try w.run("as", ["--64", "p.s", "-o", "b.o"])
        #expect(try w.bytes("a.o") == w.bytes("b.o"))
    }

    @Test("diagnostics, file names, line numbers and the exit status are the real assembler's")
    func diagnostics() throws {
        let w = try Workbench()
        try w.write("e.s", ".text\ncli\nmov %cr3,%rax\nnot_an_instruction %eax\n")
        let ours = try Toolchain.run(Self.tool, ["--64", "e.s", "-o", "a.o"], in: w.dir)
        let theirs = try Toolchain.run("as", ["--64", "e.s", "-o", "b.o"], in: w.dir)
        #expect(ours.status == theirs.status && ours.status != 0)
        #expect(ours.output == theirs.output)
        #expect(ours.output.contains("e.s:4: Error: no such instruction"))
    }

    @Test("standard input, as gcc -pipe hands it over, including a macro the scan must not trust")
    func standardInput() throws {
        let w = try Workbench()
        let source = ".macro spin insn\n\\insn\n.endm\n.text\nspin cli\nhlt\n"
        let r = try Toolchain.run(Self.tool, ["--64", "-o", w.path("s.o")], input: source)
        #expect(r.succeeded, "\(r.output)")
        // The user's macro hides a cli from the scan: the whole macro set was used, and both are sites.
        #expect(w.inspect(["s.o"]).files[0].sites.map(\.kind) == ["cli", "hlt"])
        let bad = try Toolchain.run(Self.tool, ["--64", "-o", w.path("t.o"), "-"], input: "cli\nbogus\n")
        #expect(bad.status == 1 && bad.output.contains("{standard input}:2: Error"))
    }

    @Test("previrt as and --version pass through")
    func passThrough() throws {
        let r = try Toolchain.run(CommandLineTests.previrt, ["as", "--version"])
        #expect(r.succeeded && r.output.hasPrefix("GNU assembler"))
    }
}

@Suite("distcc-safe header (previrt macros --format c-header)")
struct CHeaderTests {
    @Test("preprocessed here, compiled where no macro file exists: the object of the -Wa route", arguments: ["io.c", "entry.S"])
    func distccStyle(_ file: String) throws {
        let w = try Workbench()
        let header = w.path("previrt.h")
        #expect(try Toolchain.run(CommandLineTests.previrt, ["macros", "--arch", "x86_64", "--format", "c-header", "-o", header]).succeeded)
        let src = Toolchain.packageRoot.appendingPathComponent("Examples/annotate/\(file)").path
        let flags = file.hasSuffix(".c") ? ["-O2", "-ffreestanding", "-fno-pic"] : []
        let preprocessed = file.hasSuffix(".c") ? "remote.i" : "remote.s"
        // The client: preprocess only, with the header.
        try w.run("gcc", flags + ["-E", "-include", header, src, "-o", preprocessed])
        // The server: a directory with nothing but the preprocessed file.
        let server = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: server) }
        try FileManager.default.copyItem(atPath: w.path(preprocessed), toPath: server.appendingPathComponent(preprocessed).path)
        let compiled = try Toolchain.run("gcc", flags + ["-c", preprocessed, "-o", "remote.o"], in: server)
        try #require(compiled.succeeded, "\(compiled.output)")
        try w.run("gcc", flags + ["-c", "-Wa,\(try Toolchain.macroSet(.x86_64))", src, "-o", "local.o"])
        #expect(Array(try Data(contentsOf: server.appendingPathComponent("remote.o"))) == (try w.bytes("local.o")))
    }
}
