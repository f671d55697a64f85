// SPDX-License-Identifier: GPL-3.0-or-later
// An assembler error in a line the macro set expands names the user's file and line first, as plain
// gas would: with `as FILE`, `gcc -Wa,`, previrt-as and `previrt as` (Docs/macro-sets.md, "Diagnostics").

import Foundation
import PrevirtMacros
import Testing

@Suite("Assembler diagnostics through the macro set")
struct MacroDiagnosticsTests {
    /// Errors and warnings on sensitive and ordinary lines, among correct ones.
    static func source(_ arch: Architecture) -> String {
        let r = arch == .i386 ? "e" : "r"
        return """
            .text
            f:
            nop
            mov %cr3,%foo
            cli
            mov %\(r)ax,%foo
            lgdt %\(r)ax
            cli %eax
            in $300,%al
            push %fs,%eax
            rep insb %dx,(%\(r)di),%eax
            movl 8(%\(r)sp),%ecx
            ret

            """
    }

    /// The error and warning lines (not gas's "Info: macro invoked from here" lines).
    static func messages(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { $0.contains(": Error: ") || $0.contains(": Warning: ") }
    }

    @Test("as, gcc -Wa,, previrt-as and previrt as report the user's file and line, as plain as does", arguments: Architecture.allCases)
    func sameLinesAsPlainAs(_ arch: Architecture) throws {
        let w = try Workbench()
        try w.write("sens_err.s", Self.source(arch))
        let mode = arch == .i386 ? "--32" : "--64"
        let macros = try Toolchain.macroSet(arch)
        let plain = try Toolchain.run("as", [mode, "sens_err.s", "-o", "plain.o"], in: w.dir)
        let expected = Self.messages(plain.output)
        #expect(expected.count == 7, "\(plain.output)")
        #expect(expected.first == "sens_err.s:4: Error: bad register name `%foo'")
        let routes: [(String, [String])] = [
            ("as", [mode, macros, "sens_err.s", "-o", "a.o"]),
            ("gcc", [arch == .i386 ? "-m32" : "-m64", "-c", "-Wa,\(macros)", "sens_err.s", "-o", "b.o"]),
            (DropInAssemblerTests.tool, [mode, "sens_err.s", "-o", "c.o"]),
            (Fixture.previrt, ["as", mode, "sens_err.s", "-o", "d.o"]),
        ]
        for (tool, args) in routes {
            let r = try Toolchain.run(tool, args, in: w.dir)
            #expect(r.status == plain.status && r.status != 0, "\(tool): \(r.output)")
            #expect(Self.messages(r.output) == expected, "\(tool): \(r.output)")
            // The first line after the header is the user's, not the macro file's.
            #expect(r.output.split(separator: "\n").dropFirst().first == "sens_err.s:4: Error: bad register name `%foo'", "\(tool): \(r.output)")
        }
    }

    @Test("standard input: {standard input} and the line, as plain as")
    func standardInput() throws {
        let macros = try Toolchain.macroSet(.x86_64)
        let plain = try Toolchain.run("as", ["--64", "-o", "/dev/null"], input: Self.source(.x86_64))
        let ours = try Toolchain.run("as", ["--64", macros, "-", "-o", "/dev/null"], input: Self.source(.x86_64))
        #expect(Self.messages(ours.output) == Self.messages(plain.output), "\(ours.output)")
        #expect(Self.messages(ours.output).first == "{standard input}:4: Error: bad register name `%foo'")
    }

    @Test("C and .S (line markers): the error names the compiler's file, the last Info line the user's file and line")
    func lineMarkers() throws {
        let w = try Workbench()
        try w.write("ce.c", "void f(void)\n{\n  asm volatile(\"mov %cr3, %foo\");\n}\n")
        let r = try Toolchain.run("gcc", ["-O2", "-c", "-Wa,\(try Toolchain.macroSet(.x86_64))", "ce.c", "-o", "ce.o"], in: w.dir)
        #expect(r.status == 1)
        let lines = r.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasSuffix(": Error: bad register name `%foo'") }, "\(r.output)")
        #expect(lines.last?.hasPrefix("ce.c:3:") == true && lines.last?.hasSuffix("Info: macro invoked from here") == true, "\(r.output)")
    }
}
