// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as made cheap without changing what it decides: SourceScan's one fast pass gives exactly the
// answer of the straightforward statement-by-statement scan (ReferenceScan) on hand-made traps, on
// random statements, on the whole gas testsuite; inputs of any size are read whole, and the binary loads
// no shared Swift library.

import Foundation
@testable import PrevirtAssembler
@testable import PrevirtCatalog
@testable import PrevirtMacros
import Testing

@Suite("Drop-in assembler: the fast scan decides as the full scan, at a fraction of the cost")
struct DropInAssemblerSpeedTests {
    static let sets = Architecture.allCases.map { GNUAsMacroSet(architecture: $0, profile: .default) }

    /// The reference scan of the whole source, and SourceScan's fast pass (its decision, and the bytes
    /// of the statements it hands on as sites).
    static func bothScans(_ source: [UInt8], _ set: GNUAsMacroSet) -> (full: SourceScan, filtered: SourceScan, kept: Int) {
        let full = source.withUnsafeBufferPointer { ReferenceScan.scan($0, for: set) }
        let fast = source.withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
        let kept = fast.sites.reduce(0) { $0 + $1.end - $1.start }
        return (full, SourceScan(needed: fast.needed, needsEverything: fast.needsEverything), kept)
    }

    @Test("traps: labels, quotes over newlines, comments, case, prefixes, long words, fallback directives", arguments: [
        "cli\n", "  CLI  # upper case\n", "a: b: lgdt (%rax)\n", "A:B:MOV %CR0,%RAX\n", "lbl:cli", "x: .byte 1; cli # c\n",
        "nop; hlt; ret\n", "mov %cr3,%rax\n", "movq %rax,%cr4\n", "mov %ax,%ss\n", "push %fs\n", "pushw %es\n",
        "movl %db7,%eax\n", "mov %dr0,%rax\n", "mov %esp,%ebp\n", "mov %fs:40,%rax\n", "mov %gs:(%rax),%rbx\n",
        "movq %rax,%rbx\n", "mov %rcx,%rdx # mov %cr3,%rax\n", ".ascii \"cli; hlt\"\n", ".ascii \"a\ncli\"\nnop\n",
        ".ascii \"unterminated\ncli\n", "\"\ncli\n", "rep; insb\n", "rep\n", "rep\ninsb\n", "rep stosb\n", "lock; cli\n",
        "call cli_handler\n", "wrmsr\n", "{disp32} mov %cr0,%rax\n", "\\cli\n", "# only a comment\ncli", "cli#c\nhlt;",
        ".macro m\ncli\n.endm\n", ".include \"x.s\"\n", ".irp r,a,b\n.endr\n", ".IRPC c,ab\n.endr\n", ".altmacro\n",
        ".ALTMACRO\n", "l: .altmacro\n", ".altmacros\n", ".cfi_startproc\n", "abcdefghi\n", "\t.p2align 4\n", "",
        "mov\t%cs,%ax\n", "pop %ds\n", "popl %ss\n", "smsw %ax\n", "lmsw %ax\n", "in $0x60,%al\n", "cpuid\n", "CPUID;\n",
    ])
    func traps(_ source: String) {
        for set in Self.sets {
            let r = Self.bothScans(Array(source.utf8), set)
            #expect(r.filtered == r.full, "\(set.architecture) \(source.debugDescription)")
        }
    }

    @Test("random statements made of the words that matter: both scans agree on every one")
    func randomStatements() {
        let tokens = [
            "cli", "mov", "MOVQ", "push", "pop", "%cr0", "%rax", "%fs", "%fs:", "%ss", "%esp", "%dr7", ",", " ", "\t",
            "\n", ";", "#", "\"", ":", "rep", "insb", "lock", ".macro", ".altmacro", ".irp", ".byte", "lbl", "hlt",
            "lgdt", "(%rax)", "{load}", "\\", "cpuid", "x", "1",
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var disagreements = 0
        for _ in 0..<3000 {
            let source = (0..<(1 + next() % 40)).map { _ in tokens[next() % tokens.count] }.joined()
            for set in Self.sets {
                let r = Self.bothScans(Array(source.utf8), set)
                if r.filtered != r.full {
                    disagreements += 1
                    Issue.record("\(set.architecture) \(source.debugDescription): \(r.filtered) != \(r.full)")
                }
            }
            if disagreements > 5 { break }
        }
    }

    @Test("every file of the gas testsuite: both scans agree, and the filter keeps less than it reads")
    func gasTestsuite() throws {
        var files = 0, read = 0, kept = 0
        for unit in try GasCorpus.units() {
            let bytes = try [UInt8](Data(contentsOf: unit.source))
            for set in Self.sets {
                let r = Self.bothScans(bytes, set)
                #expect(r.filtered == r.full, "\(set.architecture) \(unit.name)")
                read += bytes.count
                kept += r.kept
            }
            files += 1
        }
        #expect(files > 1000)
        #expect(kept < read)
    }

    @Test("compiler output: the scan hands on a small part of it")
    func compilerOutput() throws {
        let w = try Workbench()
        var c = ""
        for i in 0..<300 { c += "unsigned long f\(i)(unsigned long *p, int n) { unsigned long s = \(i); for (int k = 0; k < n; k++) s += p[k] * \(i) ^ (s >> 3); return s; }\n" }
        c += "unsigned cpu(void) { unsigned a = 0, b, d, e; __asm__ volatile(\"cpuid\" : \"+a\"(a), \"=b\"(b), \"=c\"(d), \"=d\"(e)); return a; }\n"
        try w.write("big.c", c)
        let r = try Toolchain.run("gcc", ["-O2", "-w", "-S", w.path("big.c"), "-o", w.path("big.s")])
        try #require(r.succeeded, "\(r.output)")
        let bytes = try w.bytes("big.s")
        let scans = Self.bothScans(bytes, GNUAsMacroSet(architecture: .x86_64, profile: .default))
        #expect(scans.full.needed == ["cpuid"] && !scans.full.needsEverything)
        #expect(scans.filtered == scans.full)
        #expect(scans.kept * 10 < bytes.count, "kept \(scans.kept) of \(bytes.count) bytes")
    }

    @Test("an input larger than the read buffer, through a pipe, is read whole")
    func largePipe() throws {
        let w = try Workbench()
        let body = String(repeating: "\tnop\n", count: 40_000) + "\tcli\n\thlt\n"
        try w.write("big.s", ".text\n" + body)
        try w.run(DropInAssemblerTests.tool, ["--64", "big.s", "-o", "file.o"])
        let piped = try Toolchain.run("/bin/bash", ["-c", "cat big.s | \(DropInAssemblerTests.tool) --64 -o pipe.o"], in: w.dir)
        #expect(piped.succeeded, "\(piped.output)")
        #expect(try w.bytes("pipe.o") == w.bytes("file.o"))
        #expect(w.inspect(["pipe.o"]).files[0].sites.map(\.kind) == ["cli", "hlt"])
    }

    @Test("previrt-as loads no shared Swift library: its start costs what a C program's does")
    func staticSwiftRuntime() throws {
        let r = try Toolchain.run("readelf", ["-d", DropInAssemblerTests.tool])
        try #require(r.succeeded, "\(r.output)")
        let needed = r.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(!needed.isEmpty)
        #expect(!needed.contains { $0.contains("libswift") || $0.contains("libdispatch") || $0.contains("libFoundation") }, "\(needed)")
    }
}
