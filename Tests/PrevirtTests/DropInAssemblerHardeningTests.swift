// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as against hostile or unusual command lines: inputs that can be read only once, response files,
// dependency files for make, $TMPDIR, and a loop of `as` links on PATH. All with the real gas and gcc.

import Foundation
import Testing

@Suite("Drop-in assembler: inputs read once, @file, --MD, TMPDIR, loops")
struct DropInAssemblerHardeningTests {
    static var tool: String { DropInAssemblerTests.tool }
    static let source = ".text\nf:\ncli\nmov %cr3,%rax\npushf\nret\n"

    /// The object previrt-as makes of `source` as a regular file: what every other route must give.
    static func reference(_ w: Workbench) throws -> [UInt8] {
        try w.write("ref.s", source)
        try w.run(tool, ["--64", "ref.s", "-o", "ref.o"])
        #expect(w.inspect(["ref.o"]).files[0].sites.map(\.kind) == ["cli", "mov-from-cr", "pushf"])
        return try w.bytes("ref.o")
    }

    @Test("/dev/stdin is read once: the object has its code and its sites")
    func devStdin() throws {
        let w = try Workbench()
        let expected = try Self.reference(w)
        let r = try Toolchain.run(Self.tool, ["--64", "/dev/stdin", "-o", w.path("s.o")], input: Self.source)
        #expect(r.succeeded, "\(r.output)")
        #expect(try w.bytes("s.o") == expected)
    }

    @Test("a process substitution <(...) is read once")
    func processSubstitution() throws {
        let w = try Workbench()
        let expected = try Self.reference(w)
        let r = try Toolchain.run("/bin/bash", ["-c", "\(Self.tool) --64 <(cat ref.s) -o p.o"], in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(try w.bytes("p.o") == expected)
    }

    @Test("a named FIFO is read once, and gas's messages still name it and its lines")
    func namedFIFO() throws {
        let w = try Workbench()
        let expected = try Self.reference(w)
        try #require(mkfifo(w.path("fifo.s"), 0o600) == 0)
        // Under a watchdog: a previrt-as that reads the FIFO twice leaves gas waiting for a writer forever.
        let good = try Watchdog.run("cat ref.s > fifo.s & \(Self.tool) --64 fifo.s -o f.o; s=$?; wait; exit $s", in: w.dir)
        #expect(good.succeeded, "\(good.output)")
        #expect(try w.bytes("f.o") == expected)
        let bad = try Watchdog.run("printf '.text\\ncli\\nbogus\\n' > fifo.s & \(Self.tool) --64 fifo.s -o g.o; s=$?; wait; exit $s", in: w.dir)
        #expect(bad.status == 1 && bad.output.contains("fifo.s:3: Error: no such instruction: `bogus'"), "\(bad.output)")
    }

    @Test("'-' before a file: the macros come before standard input, as they come before the file")
    func standardInputFirst() throws {
        let w = try Workbench()
        try w.write("b.s", ".text\nhlt\n")
        let r = try Toolchain.run(Self.tool, ["--64", "-", "b.s", "-o", w.path("o.o")], in: w.dir, input: "cli\n")
        #expect(r.succeeded, "\(r.output)")
        #expect(w.inspect(["o.o"]).files[0].sites.map(\.kind) == ["cli", "hlt"])
    }

    @Test("@file response files are expanded for the scan and passed to gas unchanged")
    func responseFiles() throws {
        let w = try Workbench()
        let expected = try Self.reference(w)
        try FileManager.default.createDirectory(atPath: w.path("sub dir"), withIntermediateDirectories: true)
        try w.write("sub dir/in put.s", Self.source)
        try w.write("inner.rsp", "'sub dir/in put.s'\n")
        try w.write("outer.rsp", "--64 -o \"out put.o\" @inner.rsp\n")
        let r = try Toolchain.run(Self.tool, ["@outer.rsp"], in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(try w.bytes("out put.o") == expected)
        // gcc given @file passes as its arguments expanded (gcc 12): the drop-in assembler sees them.
        try FileManager.default.createDirectory(atPath: w.path("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: w.path("bin/as"), withDestinationPath: Self.tool)
        try w.write("gcc.rsp", "-B bin/ -c ref.s -o gcc.o\n")
        try w.run("gcc", ["@gcc.rsp"])
        #expect(try w.bytes("gcc.o") == expected)
        // A FIFO named inside a response file cannot be handed over again: refused, exit 2.
        try #require(mkfifo(w.path("fifo.s"), 0o600) == 0)
        try w.write("fifo.rsp", "fifo.s\n")
        let fifo = try Watchdog.run("cat ref.s > fifo.s & \(Self.tool) --64 @fifo.rsp -o f.o; s=$?; wait; exit $s", in: w.dir)
        #expect(fifo.status == 2 && fifo.output.contains("fifo.s is not a regular file and is named in a response file"), "\(fifo.output)")
        // A response file that cannot be read stays an argument, as for gas: gas's own message.
        let missing = try Toolchain.run(Self.tool, ["--64", "@missing.rsp", "-o", "m.o"], in: w.dir)
        let plain = try Toolchain.run("as", ["--64", "@missing.rsp", "-o", "m.o"], in: w.dir)
        #expect(missing.status == plain.status && missing.output == plain.output)
    }

    @Test("--MD lists the user's files only: a Makefile that includes it keeps working")
    func dependencyFile() throws {
        let w = try Workbench()
        try FileManager.default.createDirectory(atPath: w.path("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: w.path("bin/as"), withDestinationPath: Self.tool)
        try w.write("x.s", Self.source)
        try w.write("y.s", ".text\nhlt\n")
        try w.write("Makefile", """
            all: x.o y.o
            x.o: x.s
            \tgcc -B bin/ -Wa,--MD,x.d -c x.s -o x.o
            y.o: y.s
            \t\(Self.tool) --64 --MD=y.d y.s -o y.o
            -include x.d y.d

            """)
        let first = try Toolchain.run("make", [], in: w.dir)
        #expect(first.succeeded, "\(first.output)")
        let deps = try String(contentsOfFile: w.path("x.d"), encoding: .utf8) + String(contentsOfFile: w.path("y.d"), encoding: .utf8)
        #expect(!deps.contains("previrt-as-"), "\(deps)")
        #expect(deps.contains("x.o: x.s") && deps.contains("y.o: y.s"), "\(deps)")
        let second = try Toolchain.run("make", [], in: w.dir)
        #expect(second.succeeded && second.output.contains("Nothing to be done"), "\(second.output)")
        #expect(w.inspect(["x.o", "y.o"]).files.map(\.sites.count) == [3, 1])
    }

    @Test("temporary files go to $TMPDIR")
    func temporaryDirectory() throws {
        let w = try Workbench()
        try w.write("x.s", Self.source)
        let missing = try Toolchain.run("/usr/bin/env", ["TMPDIR=\(w.path("no-such-dir"))", Self.tool, "--64", "x.s", "-o", "x.o"], in: w.dir)
        #expect(missing.status == 2 && missing.output.contains("cannot create a temporary file in \(w.path("no-such-dir"))"), "\(missing.output)")
        try FileManager.default.createDirectory(atPath: w.path("tmp"), withIntermediateDirectories: true)
        let r = try Toolchain.run("/usr/bin/env", ["TMPDIR=\(w.path("tmp"))", Self.tool, "--64", "--MD", "x.d", "x.s", "-o", "x.o"], in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("tmp")).isEmpty)
    }

    @Test("two `as` links to previrt on PATH: the loop is stopped with exit 2 and a message", arguments: ["previrt-as", "previrt"])
    func loop(_ second: String) throws {
        let w = try Workbench()
        for dir in ["b1", "b2"] { try FileManager.default.createDirectory(atPath: w.path(dir), withIntermediateDirectories: true) }
        try FileManager.default.createSymbolicLink(atPath: w.path("b1/as"), withDestinationPath: Self.tool)
        let other = Toolchain.packageRoot.appendingPathComponent(".build/debug/\(second)").path
        // A copy, not a link: realpath cannot tell it is previrt-as.
        if second == "previrt-as" {
            try FileManager.default.copyItem(atPath: other, toPath: w.path("b2/as"))
        } else {
            try FileManager.default.createSymbolicLink(atPath: w.path("b2/as"), withDestinationPath: other)
        }
        try w.write("x.s", Self.source)
        let path = "\(w.path("b1")):\(w.path("b2")):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"
        // Under a watchdog: without loop detection the links start `as` after `as` until killed.
        let r = try Watchdog.run("unset PREVIRT_AS; PATH='\(path)' exec '\(w.path("b1/as"))' --64 x.s -o x.o", in: w.dir)
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("is previrt as again") && r.output.contains("set PREVIRT_AS to GNU as"), "\(r.output)")
    }
}
