// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as's in-place route: when the scan finds only always-sensitive mnemonics, each site statement
// is rewritten on its own line as the text its macro expands to, and GNU as is handed no macro. The
// object must be the -Wa route's byte for byte, the messages plain as's; anything the rewrite cannot
// stand for goes through the macros as before.

import Foundation
import PrevirtCatalog
@testable import PrevirtMacros
import Testing

@Suite("Drop-in assembler: sites written in place")
struct DropInAssemblerInPlaceTests {
    /// Runs previrt-as with a real assembler that first appends every input it is given (`.s` files,
    /// and the pipes a rewritten input comes through, copied to a file that gas reads instead) to
    /// `capture` (what gas read), then runs `as`.
    static func previrtAs(_ w: Workbench, _ args: [String]) throws -> (result: CommandResult, gasRead: String) {
        try w.write("capture-as", """
            #!/bin/bash
            args=(); k=0
            for a in "$@"; do
              case "$a" in
                *.s|/dev/fd/*) k=$((k+1)); cat "$a" > '\(w.path("in"))'$k.s; cat '\(w.path("in"))'$k.s >> '\(w.path("capture.txt"))'; args+=('\(w.path("in"))'$k.s);;
                *) args+=("$a");;
              esac
            done
            exec as "${args[@]}"

            """)
        try w.run("chmod", ["+x", "capture-as"])
        try? FileManager.default.removeItem(atPath: w.path("capture.txt"))
        let r = try Toolchain.run("/usr/bin/env", ["PREVIRT_AS=\(w.path("capture-as"))", DropInAssemblerTests.tool] + args, in: w.dir)
        let read = (try? String(contentsOfFile: w.path("capture.txt"), encoding: .utf8)) ?? ""
        return (r, read)
    }

    static func mode(_ arch: Architecture) -> String { arch == .i386 ? "--32" : "--64" }

    @Test("every always-sensitive catalog sample, in place: the -Wa route's object, and no macro for gas", arguments: Architecture.allCases)
    func catalogSamples(_ arch: Architecture) throws {
        let w = try Workbench()
        let mode: CodeMode = arch == .i386 ? .bits32 : .bits64
        let inProfile = Set(Profile.default.kinds.map(\.name))
        let expandable = InPlaceExpansion.expandable(GNUAsMacroSet(architecture: arch, profile: .default))
        let samples = CatalogSample.all.filter { $0.mode == mode && inProfile.contains($0.kind) && expandable.contains($0.mnemonic) }
        #expect(samples.count > 100)
        try w.write("s.s", ".text\nf:\n" + samples.map { "\t\($0.statement)\n" }.joined() + "\tret\n")
        let (r, gasRead) = try Self.previrtAs(w, [Self.mode(arch), "s.s", "-o", "in-place.o"])
        try #require(r.succeeded, "\(r.output)")
        #expect(!gasRead.contains(".macro") && gasRead.contains(".L__pv_b"), "gas was handed macros")
        #expect(!gasRead.contains(".linefile 0"), "a macro's .linefile was written in place")
        try w.run("as", [Self.mode(arch), try Toolchain.macroSet(arch), "s.s", "-o", "wa.o"])
        #expect(try w.bytes("in-place.o") == w.bytes("wa.o"))
        let sites = w.inspect(["in-place.o"]).files[0].sites
        #expect(sites.count == samples.count)
        #expect(sites.map(\.kind) == samples.map(\.kind))
    }

    @Test("the gas testsuite: every unit written in place gives the -Wa route's object, notes included")
    func gasTestsuite() throws {
        let w = try Workbench()
        var compared = 0
        for unit in try GasCorpus.units() {
            // -mx86-used-note writes a property note per input file: the -Wa route has one more file.
            guard !unit.flags.contains(where: { $0.contains("x86-used-note") }) else { continue }
            let source = try [UInt8](Data(contentsOf: unit.source))
            let dir = unit.source.deletingLastPathComponent()
            for mode in unit.explicitMode.map({ [$0] }) ?? ["--32", "--64"] {
                let arch: Architecture = mode == "--32" ? .i386 : .x86_64
                let set = GNUAsMacroSet(architecture: arch, profile: .default)
                let scan = source.withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
                guard !scan.sites.isEmpty, InPlaceExpansion.applies(to: scan, set), !unit.flags.contains(where: { $0.hasPrefix("-a") }) else { break }
                let wa = try Toolchain.run("as", [mode] + unit.flags + [try Toolchain.macroSet(arch), unit.source.path, "-o", w.path("wa.o")], in: dir)
                guard wa.succeeded else { continue }
                let ours = try Toolchain.run(DropInAssemblerTests.tool, [mode] + unit.flags + [unit.source.path, "-o", w.path("in-place.o")], in: dir)
                #expect(ours.succeeded, "\(unit.name) \(mode): \(ours.output)")
                #expect(try w.bytes("in-place.o") == w.bytes("wa.o"), "\(unit.name) \(mode)")
                compared += 1
                break
            }
        }
        #expect(compared >= 20, "\(compared) units compared")
    }

    @Test("gcc -O2 output with inline asm, through gcc -B: the -Wa route's object and notes", arguments: Architecture.allCases)
    func compilerOutput(_ arch: Architecture) throws {
        let w = try Workbench()
        try FileManager.default.createDirectory(atPath: w.path("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: w.path("bin/as"), withDestinationPath: DropInAssemblerTests.tool)
        var c = ""
        for i in 0..<50 { c += "unsigned long f\(i)(unsigned long *p, int n) { unsigned long s = \(i); for (int k = 0; k < n; k++) s += p[k] * \(i) ^ (s >> 3); return s; }\n" }
        c += """
            unsigned id(unsigned leaf) { unsigned a = leaf, b, c = 0, d; __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d)); return a ^ b ^ c ^ d; }
            void idle(void) { __asm__ volatile("cli; hlt" ::: "memory"); }
            void flush(void) { __asm__ volatile("wbinvd\\n\\tsti" ::: "memory"); }

            """
        try w.write("k.c", c)
        let m = arch == .i386 ? ["-m32"] : ["-m64"]
        try w.run("gcc", m + ["-O2", "-B", w.path("bin") + "/", "-c", "k.c", "-o", "in-place.o"])
        try w.run("gcc", m + ["-O2", "-c", "-Wa,\(try Toolchain.macroSet(arch))", "k.c", "-o", "wa.o"])
        #expect(try w.bytes("in-place.o") == w.bytes("wa.o"))
        let report = w.inspect(["in-place.o"])
        #expect(report.files[0].sites.map(\.kind) == ["cpuid", "cli", "hlt", "wbinvd", "sti"])
        #expect(report.exitStatus == 0)
    }

    @Test("messages in place are plain as's, file and line, with no macro lines")
    func diagnostics() throws {
        let w = try Workbench()
        try w.write("e.s", ".text\nf:\nnop\ncli %eax\nlgdt %rax\nin $300,%al\nbogus %eax\nhlt\n\tcpuid # ok\nmovl 8(%rsp),%ecx\nret\n")
        let (ours, gasRead) = try Self.previrtAs(w, ["--64", "e.s", "-o", "a.o"])
        #expect(!gasRead.contains(".macro") && gasRead.contains(".L__pv_b"))
        let plain = try Toolchain.run("as", ["--64", "e.s", "-o", "b.o"], in: w.dir)
        #expect(ours.status == plain.status && ours.status != 0)
        #expect(ours.output == plain.output)
        #expect(plain.output.contains("e.s:4: Error: number of operands mismatch for `cli'"))
        #expect(plain.output.contains("e.s:7: Error: no such instruction"))
    }

    @Test("an interrupt-shadow site (padding first) reports as the -Wa route does")
    func paddingFirstDiagnostics() throws {
        let w = try Workbench()
        try w.write("e.s", ".text\nsti %eax\nsti\nbogus\n")
        let (ours, gasRead) = try Self.previrtAs(w, ["--64", "e.s", "-o", "a.o"])
        #expect(!gasRead.contains(".macro") && gasRead.contains(".L__pv_b"))
        let wa = try Toolchain.run("as", ["--64", try Toolchain.macroSet(.x86_64), "e.s", "-o", "b.o"], in: w.dir)
        #expect(ours.status == wa.status && ours.status != 0)
        #expect(MacroDiagnosticsTests.messages(ours.output) == MacroDiagnosticsTests.messages(wa.output))
        #expect(MacroDiagnosticsTests.messages(ours.output).allSatisfy { $0.hasPrefix("e.s:2: ") || $0.hasPrefix("e.s:4: ") }, "\(ours.output)")
    }

    @Test("what cannot be written in place goes through the macros, with the -Wa route's object", arguments: [
        ".rept 2\ncli\n.endr\nhlt\n",                    // one site's labels would be repeated
        "previrt_off\ncli\nprevirt_on\nhlt\n",           // the opt-out macros
        "int $0x80\nint $3\ncpuid\n",                    // a table of exceptions, looked up by gas
        "rep insb\nhlt\n",                               // a prefix
        "rep; insb\n",                                   // a bare prefix before an ins
        "mov %cr3,%rax\ncli\n",                          // an overloaded mnemonic
        ".macro m\ncli\n.endm\nm\nhlt\n",                // a user macro
    ])
    func macroRoute(_ body: String) throws {
        let w = try Workbench()
        try w.write("m.s", ".text\n" + body)
        let (r, gasRead) = try Self.previrtAs(w, ["--64", "m.s", "-o", "a.o"])
        try #require(r.succeeded, "\(r.output)")
        #expect(gasRead.contains(".macro __pv_site"), "the macro route was not taken")
        try w.run("as", ["--64", try Toolchain.macroSet(.x86_64), "m.s", "-o", "b.o"])
        #expect(try w.bytes("a.o") == w.bytes("b.o"))
    }

    @Test("past 20,000 sites the macros are defined instead (the in-place text would be held in memory)")
    func manySites() throws {
        let w = try Workbench()
        try w.write("many.s", ".text\n" + String(repeating: "hlt\n", count: 20_001))
        let (r, gasRead) = try Self.previrtAs(w, ["--64", "many.s", "-o", "a.o"])
        try #require(r.succeeded, "\(r.output)")
        #expect(gasRead.contains(".macro __pv_site"))
        try w.run("as", ["--64", try Toolchain.macroSet(.x86_64), "many.s", "-o", "b.o"])
        #expect(try w.bytes("a.o") == w.bytes("b.o"))
    }

    @Test("several inputs with sites in one run: labels stay unique, the object is the -Wa route's")
    func severalInputs() throws {
        let w = try Workbench()
        try w.write("a.s", ".text\na:\ncli\nhlt\n")
        try w.write("b.s", "b: cpuid\n\tsti\n")
        let (r, gasRead) = try Self.previrtAs(w, ["--64", "a.s", "b.s", "-o", "ab.o"])
        try #require(r.succeeded, "\(r.output)")
        #expect(!gasRead.contains(".macro") && gasRead.contains(".L__pv_b"))
        try w.run("as", ["--64", try Toolchain.macroSet(.x86_64), "a.s", "b.s", "-o", "wa.o"])
        #expect(try w.bytes("ab.o") == w.bytes("wa.o"))
        #expect(w.inspect(["ab.o"]).files[0].sites.map(\.kind) == ["cli", "hlt", "cpuid", "sti"])
    }

    @Test("a listing (-al) reads the source again: the macros are defined instead, and it shows the user's lines")
    func listing() throws {
        let w = try Workbench()
        try w.write("l.s", ".text\nnop\ncpuid\nret\n")
        let (r, gasRead) = try Self.previrtAs(w, ["--64", "-al", "l.s", "-o", "l.o"])
        try #require(r.succeeded, "\(r.output)")
        #expect(gasRead.contains(".macro __pv_site"))
        // Without the stand-in: the listing prints the user's lines, with their code.
        let listed = try Toolchain.run(DropInAssemblerTests.tool, ["--64", "-al", "l.s", "-o", "m.o"], in: w.dir)
        #expect(listed.output.contains("GAS LISTING l.s") && listed.output.contains("   2 0000 90       \tnop"), "\(listed.output)")
        try w.run("as", ["--64", try Toolchain.macroSet(.x86_64), "l.s", "-o", "wa.o"])
        #expect(try w.bytes("l.o") == w.bytes("wa.o"))
    }

    @Test("#NO_APP stays the first line, and lines keep their numbers")
    func noApp() throws {
        let w = try Workbench()
        try w.write("n.s", "#NO_APP\n\t.text\n\tcli\n\tbogus\n")
        let (ours, gasRead) = try Self.previrtAs(w, ["--64", "n.s", "-o", "a.o"])
        #expect(gasRead.hasPrefix("#NO_APP\n"), "\(gasRead.prefix(80))")
        let plain = try Toolchain.run("as", ["--64", "n.s", "-o", "b.o"], in: w.dir)
        #expect(ours.output == plain.output && plain.output.contains("n.s:4: Error"))
        try w.write("n.s", "#NO_APP\n\t.text\n\tcli\n\thlt\n")
        #expect(try Self.previrtAs(w, ["--64", "n.s", "-o", "a.o"]).result.succeeded)
        try w.run("as", ["--64", try Toolchain.macroSet(.x86_64), "n.s", "-o", "b.o"])
        #expect(try w.bytes("a.o") == w.bytes("b.o"))
    }

    @Test("the expansion: the set's own macros, no .macro and no .linefile, unique labels, nil for other shapes")
    func expansion() throws {
        var set = GNUAsMacroSet(architecture: .x86_64, profile: .default)
        set.selection = ["cpuid", "mov", "int"]
        var e = InPlaceExpansion(set)
        let empty = Array("".utf8)
        let first = try #require(empty.withUnsafeBufferPointer { e.expand("cpuid", operands: $0[...]) })
        let second = try #require(empty.withUnsafeBufferPointer { e.expand("CPUID", operands: $0[...]) })
        let a = String(decoding: first, as: UTF8.self), b = String(decoding: second, as: UTF8.self)
        #expect(a.hasPrefix(".set .L__pv_v, 45; "))
        #expect(a.contains("{nooptimize} cpuid") && !a.contains(".macro") && !a.contains(".linefile") && !a.contains("\n"))
        #expect(!a.contains("\\@") && !a.contains("__pv_site") && !a.contains("__pv_nops"))
        let label = #/\.L__pv_b(\d+):/#
        let la = try #require(a.firstMatch(of: label)).1, lb = try #require(b.firstMatch(of: label)).1
        #expect(la != lb)
        set.selection = ["cpuid"]
        #expect(String(decoding: InPlaceExpansion(set).prologue, as: UTF8.self) == ".set .L__pv_depth, 0; .set .L__pv_pfx, -10")
        let ops = Array("%cr3,%rax".utf8)
        #expect(ops.withUnsafeBufferPointer { e.expand("mov", operands: $0[...]) } == nil)
        #expect(InPlaceExpansion.expandable(set) == ["cpuid"])
        set.selection = ["cpuid", "mov", "int"]
        #expect(InPlaceExpansion.expandable(set) == ["cpuid"])
    }
}
