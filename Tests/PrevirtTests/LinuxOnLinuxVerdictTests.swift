// SPDX-License-Identifier: GPL-3.0-or-later
// Linux-on-Linux M4: `previrt run`'s exit status carries the guest's verdict as QEMU's does for the guest
// userland's init (restart when every check passed, halt otherwise): Linux's restart (a reset through port
// 0x64) ends the run with 0, its halt (hlt with interrupts off, for good) with 4.

import Foundation
import Testing

@Suite("Linux-on-Linux: previrt run's exit status for the guest's restart and halt")
struct LinuxOnLinuxVerdictTests {
    /// An init that prints the word the kernel passed it and then restarts or halts the machine.
    static let source = """
        #include <stdio.h>
        #include <string.h>
        #include <sys/reboot.h>

        int main(int argc, char **argv)
        {
            int halt = argc > 1 && strcmp(argv[1], "halt") == 0;
            printf("verdict init: %s\\n", halt ? "halt" : "restart");
            fflush(stdout);
            reboot(halt ? RB_HALT_SYSTEM : RB_AUTOBOOT);
            return 1;
        }
        """

    @Test("reboot(RB_AUTOBOOT) exits 0, reboot(RB_HALT_SYSTEM) exits 4", arguments: [("restart", Int32(0)), ("halt", Int32(4))])
    func status(_ word: String, _ expected: Int32) throws {
        let kernel = try LinuxKernel.path()
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.source.write(to: dir.appendingPathComponent("init.c"), atomically: true, encoding: .utf8)
        let cc = try Toolchain.run("gcc", ["-m32", "-static", "-O2", "-o", dir.appendingPathComponent("init").path,
                                           dir.appendingPathComponent("init.c").path])
        #expect(cc.succeeded, "\(cc.output)")
        let cpio = try Toolchain.run("sh", ["-c", "cd '\(dir.path)' && echo init | cpio -o -H newc > initrd.cpio 2>/dev/null"])
        #expect(cpio.succeeded)
        let r = LinuxKernel.lines(try Toolchain.run("timeout", ["-s", "KILL", "120", Fixture.previrt, "run", "--timeout", "60",
                                                                "--initrd", dir.appendingPathComponent("initrd.cpio").path,
                                                                "--append", "console=ttyS0 idle=halt \(word)", kernel]))
        #expect(r.output.contains("verdict init: \(word)\n"), "\(r.output.suffix(2000))")
        #expect(r.output.contains(word == "halt" ? "reboot: System halted" : "reboot: Restarting system"), "\(r.output.suffix(2000))")
        #expect(r.status == expected, "\(r.output.suffix(2000))")
    }
}
