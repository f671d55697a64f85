// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as / `previrt as`: a drop-in assembler for builds that can only choose which assembler runs.

import Foundation
import PrevirtCatalog
import PrevirtELF
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
        let src = Fixture.cSource
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
        let r = try Toolchain.run(Fixture.previrt, ["as", "--version"])
        #expect(r.succeeded && r.output.hasPrefix("GNU assembler"))
    }
}

@Suite("distcc-safe header (previrt macros --format c-header)")
struct CHeaderTests {
    @Test("preprocessed here, compiled where no macro file exists: the object of the -Wa route", arguments: ["io.c", "entry.S"])
    func distccStyle(_ file: String) throws {
        let w = try Workbench()
        let header = w.path("previrt.h")
        #expect(try Toolchain.run(Fixture.previrt, ["macros", "--arch", "x86_64", "--format", "c-header", "-o", header]).succeeded)
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

@Suite("LLVM flavour through clang's integrated assembler")
struct LLVMFlavourTests {
    static func macros(_ arch: Architecture, pad: Int? = nil) throws -> String {
        var profile = try Profile.named("all")
        if let pad { profile = profile.padded(by: pad) }
        return GNUAsMacroSet(architecture: arch, profile: profile, flavor: .llvm).text
    }

    /// Assembles `source` with clang's integrated assembler.
    static func clang(_ source: String, _ mode: CodeMode) throws -> Result<[UInt8], AssemblyFailure> {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try source.write(to: dir.appendingPathComponent("s.s"), atomically: true, encoding: .utf8)
        let target = mode == .bits64 ? "x86_64-linux-gnu" : "i386-linux-gnu"
        let r = try Toolchain.run("clang", ["-c", "-target", target, "s.s", "-o", "s.o"], in: dir)
        guard r.succeeded else { return .failure(AssemblyFailure(output: r.output)) }
        return .success(Array(try Data(contentsOf: dir.appendingPathComponent("s.o"))))
    }

    /// The catalog samples clang's integrated assembler rejects even without the macros (the clang of
    /// Swift 6.3, LLVM 21, does not know these spellings): the only samples the next test may skip.
    static let rejectedByLLVM: Set<String> = [
        "32-bit verww (%eax)", "64-bit verww %cx", "32-bit arplw %ax,(%ebx)", "32-bit ins (%dx),%es:(%edi)",
        "64-bit ins (%dx),%es:(%rdi)", "32-bit outs %ds:(%esi),(%dx)", "64-bit outs (%rsi),(%dx)",
    ]

    @Test("catalog samples: one site each with clang, or a documented LLVM limit", arguments: CatalogSample.all)
    func sample(_ s: CatalogSample) throws {
        guard case .success(let plain) = try Self.clang(".text\n\(s.statement)\n", s.mode) else {
            // LLVM does not know this spelling at all: nothing to annotate. Only the known ones may be skipped.
            #expect(Self.rejectedByLLVM.contains(s.testDescription), "clang rejects \(s.testDescription), which is not a known LLVM limit")
            return
        }
        #expect(!Self.rejectedByLLVM.contains(s.testDescription), "clang now accepts \(s.testDescription): take it off rejectedByLLVM")
        let plainText = try ELFFile(bytes: plain).bytes(of: ".text")
        let annotated = try Self.clang(try Self.macros(s.architecture) + ".text\n\(s.statement)\n", s.mode).get()
        let object = try AnnotatedObject(bytes: annotated)
        try #require(object.notes.sites.count == 1, "\(s.statement)")
        let r = object.notes.sites[0].record
        #expect(r.kind?.name == s.kind, "\(s.statement)")
        #expect(Int(r.instructionLength) == plainText.count, "\(s.statement)")
        let insn = Array(object.text[r.instructionOffset..<(r.instructionOffset + Int(r.instructionLength))])
        #expect(insn == plainText, "\(s.statement)")
    }

    @Test("C through clang -include: sites verify; with --pad 0 the object is the plain compile's")
    func cThroughClang() throws {
        let w = try Workbench()
        for (name, pad) in [("llvm.h", nil), ("llvm0.h", 0) as (String, Int?)] {
            var arguments = ["macros", "--arch", "x86_64", "--flavor", "llvm", "--format", "c-header", "-o", w.path(name)]
            if let pad { arguments += ["--pad", "\(pad)"] }
            #expect(try Toolchain.run(Fixture.previrt, arguments).succeeded)
        }
        let src = Fixture.cSource
        let flags = ["-O2", "-ffreestanding", "-fno-pic", "-c", src]
        try w.run("clang", flags + ["-include", w.path("llvm.h"), "-o", "pv.o"])
        try w.run("clang", flags + ["-include", w.path("llvm0.h"), "-o", "zero.o"])
        try w.run("clang", flags + ["-o", "plain.o"])
        let report = w.inspect(["pv.o"])
        #expect(report.files[0].sites.count >= 10 && report.files[0].sites.allSatisfy { $0.status == .ok })
        #expect(report.files[0].unannotated?.isEmpty == true)
        let diffs = try ObjectComparison.differences(plain: ELFFile(bytes: w.bytes("plain.o")), annotated: ELFFile(bytes: w.bytes("zero.o")))
        #expect(diffs.isEmpty, "\(diffs)")
    }
}
