// SPDX-License-Identifier: GPL-3.0-or-later
// previrt -o: whole or not at all, through an unpredictable O_EXCL temporary file; devices and FIFOs
// written in place, never replaced; modes kept; clear messages for a directory or an empty name.

import Foundation
import Testing

@Suite("previrt -o: never clobber a file")
struct OutputFileTests {
    static let macros = ["macros", "--arch", "x86_64"]

    static func committedMacroSet() throws -> String {
        try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Macros/previrt-x86_64.s"), encoding: .utf8)
    }

    /// glibc's makedev, which Swift does not import.
    static func device(_ major: UInt64, _ minor: UInt64) -> dev_t {
        dev_t((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32))
    }

    static func fileType(_ path: String) -> mode_t? {
        var s = stat()
        return lstat(path, &s) == 0 ? s.st_mode & S_IFMT : nil
    }

    @Test("a symlink planted at the old predictable temporary name is not followed")
    func plantedSymlink() throws {
        let w = try Workbench()
        try w.write("victim", "precious\n")
        // The old name was .x.s.<pid>.tmp: plant it for pid 1 (the tool runs as pid 1 of a new PID
        // namespace when unshare is allowed) and for the next few hundred pids of this machine.
        let last = Int((try? String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        let pids = [1] + Array((last + 1)...(last + 400))
        for pid in pids {
            try FileManager.default.createSymbolicLink(atPath: w.path(".x.s.\(pid).tmp"), withDestinationPath: w.path("victim"))
        }
        let unshare = (try? Toolchain.run("unshare", ["-pf", "true"]))?.succeeded == true
        let command = unshare ? ["-pf", Fixture.previrt] + Self.macros + ["-o", "x.s"] : Self.macros + ["-o", "x.s"]
        let r = try Toolchain.run(unshare ? "unshare" : Fixture.previrt, command, in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(try String(contentsOfFile: w.path("victim"), encoding: .utf8) == "precious\n")
        #expect(try String(contentsOfFile: w.path("x.s"), encoding: .utf8) == Self.committedMacroSet())
        #expect(Self.fileType(w.path("x.s")) == S_IFREG)
        for pid in pids { #expect(Self.fileType(w.path(".x.s.\(pid).tmp")) == S_IFLNK) }
        // Nothing else was left behind: the target, the victim and the planted links.
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path(".")).count == pids.count + 2)
    }

    @Test("a character device (a copy of /dev/null made with mknod) stays a device", .enabled(if: getuid() == 0, "mknod needs root"))
    func characterDevice() throws {
        let w = try Workbench()
        try #require(mknod(w.path("null"), S_IFCHR | 0o666, Self.device(1, 3)) == 0)
        for args in [Self.macros + ["-o", "null"], ["note-header", "-o", "null"]] {
            let r = try Toolchain.run(Fixture.previrt, args, in: w.dir)
            #expect(r.succeeded, "\(r.output)")
            var s = stat()
            #expect(lstat(w.path("null"), &s) == 0 && s.st_mode & S_IFMT == S_IFCHR && s.st_rdev == Self.device(1, 3))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path(".")) == ["null"])
    }

    @Test("a FIFO is written through, not replaced: its reader gets the macro set")
    func fifo() throws {
        let w = try Workbench()
        try #require(mkfifo(w.path("pipe"), 0o600) == 0)
        // The reader and the writer run together under a watchdog: a FIFO replaced by a regular file is
        // never written, and its reader would wait forever.
        let r = try Watchdog.run("cat pipe > received & \(Fixture.previrt) macros --arch x86_64 -o pipe; s=$?; wait; exit $s", in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(Self.fileType(w.path("pipe")) == S_IFIFO)
        #expect(try String(contentsOfFile: w.path("received"), encoding: .utf8) == Self.committedMacroSet())
    }

    @Test("a symlink to /dev/stdout writes to standard output (a pipe here) and stays a symlink")
    func standardOutputLink() throws {
        let w = try Workbench()
        try FileManager.default.createSymbolicLink(atPath: w.path("out"), withDestinationPath: "/dev/stdout")
        let r = try Toolchain.run(Fixture.previrt, ["note-header", "-o", "out"], in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(r.output.contains("#define PREVIRT_NOTE_H"), "\(r.output.prefix(200))")
        #expect(Self.fileType(w.path("out")) == S_IFLNK)
    }

    @Test("a replaced regular file keeps its mode; a new file gets 0666 less the umask")
    func modeKept() throws {
        let w = try Workbench()
        try w.write("m.s", "old\n")
        #expect(chmod(w.path("m.s"), 0o640) == 0)
        #expect(try Toolchain.run(Fixture.previrt, Self.macros + ["-o", "m.s"], in: w.dir).succeeded)
        var s = stat()
        #expect(stat(w.path("m.s"), &s) == 0 && s.st_mode & 0o7777 == 0o640)
        #expect(try String(contentsOfFile: w.path("m.s"), encoding: .utf8) == Self.committedMacroSet())
        let r = try Toolchain.run("/bin/sh", ["-c", "umask 027 && \(Fixture.previrt) note-header -o new.h"], in: w.dir)
        #expect(r.succeeded, "\(r.output)")
        #expect(stat(w.path("new.h"), &s) == 0 && s.st_mode & 0o7777 == 0o640)
    }

    @Test("a symlink to a regular file: the file is replaced, the link stays; a dangling link is refused")
    func symlinkedTarget() throws {
        let w = try Workbench()
        try FileManager.default.createDirectory(atPath: w.path("real"), withIntermediateDirectories: true)
        try w.write("real/m.s", "old\n")
        #expect(chmod(w.path("real/m.s"), 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: w.path("link.s"), withDestinationPath: "real/m.s")
        #expect(try Toolchain.run(Fixture.previrt, Self.macros + ["-o", "link.s"], in: w.dir).succeeded)
        #expect(Self.fileType(w.path("link.s")) == S_IFLNK)
        #expect(try String(contentsOfFile: w.path("real/m.s"), encoding: .utf8) == Self.committedMacroSet())
        var s = stat()
        #expect(stat(w.path("real/m.s"), &s) == 0 && s.st_mode & 0o7777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("real")) == ["m.s"])

        try FileManager.default.createSymbolicLink(atPath: w.path("dangling.s"), withDestinationPath: "nowhere/m.s")
        let r = try Toolchain.run(Fixture.previrt, Self.macros + ["-o", "dangling.s"], in: w.dir)
        #expect(r.status == 2 && r.output.contains("cannot write dangling.s: it is a symbolic link to a file that does not exist"), "\(r.output)")
    }

    @Test("a hard-linked file: the name given to -o is replaced, the other link keeps the old contents")
    func hardLink() throws {
        let w = try Workbench()
        try w.write("m.s", "old\n")
        #expect(link(w.path("m.s"), w.path("other.s")) == 0)
        #expect(try Toolchain.run(Fixture.previrt, Self.macros + ["-o", "m.s"], in: w.dir).succeeded)
        #expect(try String(contentsOfFile: w.path("m.s"), encoding: .utf8) == Self.committedMacroSet())
        #expect(try String(contentsOfFile: w.path("other.s"), encoding: .utf8) == "old\n")
        var s = stat()
        #expect(stat(w.path("other.s"), &s) == 0 && s.st_nlink == 1)
    }

    @Test("-o a directory, -o '', -o in a missing directory: a message naming the path, exit 2, nothing written", arguments: [
        (["-o", "."], "cannot write .: it is a directory"),
        (["-o", "sub"], "cannot write sub: it is a directory"),
        (["-o", ""], "cannot write '': the output file name is empty"),
        (["-o", "no/such/x.s"], "cannot write no/such/x.s: directory no/such does not exist"),
    ])
    func refused(_ output: [String], _ message: String) throws {
        let w = try Workbench()
        try FileManager.default.createDirectory(atPath: w.path("sub"), withIntermediateDirectories: true)
        for command in [Self.macros, ["note-header"]] {
            let r = try Toolchain.run(Fixture.previrt, command + output, in: w.dir)
            #expect(r.status == 2, "\(r.output)")
            #expect(r.output.contains(message), "\(r.output)")
            #expect(!r.output.contains("OutputError"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: w.path(".")) == ["sub"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("sub")).isEmpty)
        }
    }

    @Test("a block device is refused, never replaced", .enabled(if: getuid() == 0, "mknod needs root"))
    func blockDevice() throws {
        let w = try Workbench()
        // A block device node for a loop device number: never opened, since previrt refuses it first.
        try #require(mknod(w.path("disk"), S_IFBLK | 0o600, Self.device(7, 200)) == 0)
        let r = try Toolchain.run(Fixture.previrt, Self.macros + ["-o", "disk"], in: w.dir)
        #expect(r.status == 2 && r.output.contains("cannot write disk: it is a block device"), "\(r.output)")
        #expect(Self.fileType(w.path("disk")) == S_IFBLK)
    }
}
