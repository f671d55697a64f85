// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as reads a regular input by mapping it and moves its unchanged parts into GNU as's pipe with
// splice (Sources/CByteMarks/file_pipe.c): GNU as reads the file's own pages. The object must be the
// same as ever, for inputs larger than the pipe too; an input that changes or shrinks while it is being
// assembled is an error (status 2), never a signal.

import Foundation
import PrevirtCatalog
import PrevirtInspector
import Testing

@Suite("Drop-in assembler: inputs mapped and spliced")
struct DropInAssemblerSpliceTests {
    /// An input of about 3 MB (three times the pipe) with a `cpuid` site every 10,000 lines.
    static func largeInput() -> String {
        var s = "\t.text\nf:\n"
        for i in 0..<100_000 {
            s += i % 10_000 == 5_000 ? "\tcpuid\n" : "\tmovl %eax, \(i)(%rbx)\t# a comment to make the line longer\n"
        }
        return s + "\tret\n"
    }

    @Test("an input three times the pipe's size: the -Wa route's object, every site found")
    func largerThanThePipe() throws {
        let w = try Workbench()
        try w.write("big.s", Self.largeInput())
        let r = try Toolchain.run(DropInAssemblerTests.tool, ["--64", "big.s", "-o", "in-place.o"], in: w.dir)
        try #require(r.succeeded, "\(r.output)")
        try w.run("as", ["--64", try Toolchain.macroSet(.x86_64), "big.s", "-o", "wa.o"])
        #expect(try w.bytes("in-place.o") == w.bytes("wa.o"))
        #expect(w.inspect(["in-place.o"]).files[0].sites.count == 10)
    }

    /// previrt-as with a real assembler that first runs `change` on the input (`$1` is its path), then as.
    func changing(_ change: String, _ w: Workbench) throws -> CommandResult {
        try w.write("changing-as", """
            #!/bin/bash
            f='\(w.path("big.s"))'
            \(change)
            exec as "$@"

            """)
        try w.run("chmod", ["+x", "changing-as"])
        return try Toolchain.run("/usr/bin/env", ["PREVIRT_AS=\(w.path("changing-as"))", DropInAssemblerTests.tool, "--64", "big.s", "-o", "out.o"], in: w.dir)
    }

    @Test("an input written to while GNU as reads it: status 2 and why", arguments: [
        "echo '\tnop' >> \"$f\"",
        "touch -d '2001-01-01' \"$f\"",
    ])
    func changedWhileAssembled(_ change: String) throws {
        let w = try Workbench()
        try w.write("big.s", Self.largeInput())
        let r = try changing(change, w)
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("big.s changed while it was assembled"), "\(r.output)")
    }

    @Test("an input truncated while GNU as reads it: status 2, no signal")
    func truncatedWhileAssembled() throws {
        let w = try Workbench()
        try w.write("big.s", Self.largeInput())
        let r = try changing(": > \"$f\"", w)
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("big.s changed while it was assembled"), "\(r.output)")
    }

    @Test("an input without sites, changed while assembled, is gas's to read by name: as plain as")
    func unchangedRouteForInputsWithoutSites() throws {
        let w = try Workbench()
        try w.write("big.s", "\t.text\n\tnop\n\tret\n")
        let r = try changing("echo '\tnop' >> \"$f\"", w)
        #expect(r.succeeded, "\(r.output)")
    }
}
