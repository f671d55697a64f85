// SPDX-License-Identifier: GPL-3.0-or-later
// Linux-on-Linux (issue 10): the i386 Linux 6.1 kernel built with the macro set (Kernel/build-guest.sh)
// boots under `previrt run`, through the same PVH entry QEMU's -kernel uses; and the paging guest shows
// the VMM's MMU behaving as QEMU's does.

import Foundation
import Testing

enum LinuxKernel {
    static func path() throws -> String {
        let r = try Toolchain.make(["-s", "out/host/previrt-linux-user"])
        guard r.succeeded else { throw CorpusError("cannot build the linux-user VMM: \(r.output)") }
        return try GuestKernel.path()
    }

    /// The command line the tests give: the early console on COM1, reboot at once on panic, and a fixed
    /// loops-per-jiffy so that the boot does not wait for timer interrupts to calibrate the delay loop.
    static let append = "console=ttyS0 earlyprintk=serial,ttyS0 idle=halt panic=-1 lpj=1000000"

    /// `previrt run` of the kernel without an initrd: it boots until it finds no init, panics and resets.
    /// The output's line ends are "\n" (the serial console writes "\r\n").
    static func run(_ extra: [String] = [], append: String = append) throws -> CommandResult {
        lines(try Toolchain.run("timeout", ["-s", "KILL", "120", Fixture.previrt, "run", "--timeout", "60"] + extra
                                + ["--append", append, try path()]))
    }

    static func lines(_ r: CommandResult) -> CommandResult {
        var r = r
        r.output = r.output.replacingOccurrences(of: "\r\n", with: "\n")
        return r
    }
}

@Suite("Linux-on-Linux: the i386 kernel under previrt run", .serialized)
struct LinuxOnLinuxTests {
    @Test("M1: the kernel's early console prints its banner and command line under previrt run")
    func banner() throws {
        let r = try LinuxKernel.run()
        #expect(r.output.contains("Linux version 6.1."), "\(r.output.prefix(3000))")
        // The VMM passes the command line through the PVH start info and adds reservetop= for its region.
        #expect(r.output.contains("Kernel command line: \(LinuxKernel.append) reservetop=0x18000000\n"), "\(r.output.prefix(3000))")
        #expect(r.output.contains("Reserving virtual address space above 0xe8000000"))
        // With no initrd the kernel finds no init, panics, and (panic=-1) resets through port 0x64: status 0.
        #expect(r.output.contains("Kernel panic - not syncing: No working init found."), "\(r.output.suffix(3000))")
        #expect(r.status == 0, "\(r.output.suffix(2000))")
    }

    @Test("the same vmlinux boots on QEMU through its PVH note and prints the same banner")
    func sameFileOnQEMU() throws {
        let kernel = try LinuxKernel.path()
        let q = LinuxKernel.lines(try Toolchain.run("timeout", ["-s", "KILL", "120", "qemu-system-i386", "-display", "none", "-no-reboot",
                                                                "-serial", "stdio", "-m", "64", "-kernel", kernel, "-append", LinuxKernel.append]))
        let p = try LinuxKernel.run()
        let banner = { (text: String) in text.split(separator: "\n").first { $0.hasPrefix("Linux version 6.1.") } }
        #expect(banner(q.output) != nil, "\(q.output.prefix(2000))")
        #expect(banner(q.output) == banner(p.output))
    }

    @Test("--memory: the kernel's memory map and its low memory match", arguments: [24, 48, 144])
    func memory(_ mib: Int) throws {
        let r = try LinuxKernel.run(["--memory", String(mib)])
        let end = String(mib << 20 - 1, radix: 16)
        #expect(r.output.contains("BIOS-e820: [mem 0x0000000000100000-0x\(String(repeating: "0", count: 16 - end.count) + end)] usable"),
                "\(r.output.prefix(3000))")
        #expect(r.output.contains("\(mib)MB LOWMEM available."), "\(r.output.prefix(3000))")
        #expect(r.status == 0)
    }

    @Test("the kernel's exception paths work: #PF fixups (the WP test), #GP from rdmsr_safe, no unchecked MSR access")
    func exceptions() throws {
        let r = try LinuxKernel.run()
        // test_wp_bit writes to a read-only page and expects the #PF, delivered through the guest's IDT.
        #expect(r.output.contains("Checking if this processor honours the WP bit even in supervisor mode...Ok."), "\(r.output.prefix(3000))")
        #expect(!r.output.contains("unchecked MSR access error"))
        #expect(!r.output.contains("previrt run: guest fault"))
    }

    @Test("an initrd is module 0 of the PVH start info: the kernel unpacks it and runs its /init")
    func initrd() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A cpio archive whose /init is not an executable: the kernel reads the archive, tries /init, fails.
        try "not a program\n".write(to: dir.appendingPathComponent("init"), atomically: true, encoding: .utf8)
        let cpio = try Toolchain.run("sh", ["-c", "cd '\(dir.path)' && echo init | cpio -o -H newc > initrd.cpio 2>/dev/null"])
        #expect(cpio.succeeded)
        let r = try LinuxKernel.run(["--initrd", dir.appendingPathComponent("initrd.cpio").path])
        #expect(r.output.contains("Trying to unpack rootfs image as initramfs") || r.output.contains("Run /init as init process"),
                "\(r.output.suffix(3000))")
        #expect(r.output.contains("Run /init as init process"), "\(r.output.suffix(3000))")
        #expect(r.output.contains("Failed to execute /init"), "\(r.output.suffix(3000))")
    }

    @Test("M2: with the TSC marked unstable (tsc=unstable) the kernel keeps time with the PIT clocksource (channel 0's latched count)")
    func timer() throws {
        // The TSC's frequency is known (cpuid leaf 0x15, and the PIT's channel 2), so the kernel takes its delay
        // loop's value from it; IRQ0's delivery is checked by LinuxOnLinuxDeviceTests (jiffies against the clock).
        let append = "console=ttyS0 earlyprintk=serial,ttyS0 idle=halt panic=-1 tsc=unstable"
        let r = try LinuxKernel.run(append: append)
        #expect(r.output.contains("tsc: Marking TSC unstable due to boot parameter"), "\(r.output.suffix(3000))")
        #expect(r.output.contains("Calibrating delay loop"), "\(r.output.suffix(3000))")
        #expect(r.output.contains(" BogoMIPS (lpj="), "\(r.output.suffix(3000))")
        #expect(r.output.contains("clocksource: Switched to clocksource pit"), "\(r.output.suffix(3000))")
        #expect(r.output.contains("Kernel panic - not syncing: No working init found."), "\(r.output.suffix(3000))")
        #expect(r.status == 0)
    }

    /// A static i386 init for the user-mode test: what it checks is printed through its standard output
    /// (the guest's tty on ttyS0), then it reboots.
    static let testInit = """
        #include <signal.h>
        #include <stdio.h>
        #include <sys/reboot.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static int in_child(void (*fn)(void))
        {
            int status;
            pid_t pid = fork();
            if (pid == 0) {
                fn();
                _exit(0);
            }
            waitpid(pid, &status, 0);
            return status;
        }
        static const char *how(int status)
        {
            static char text[64];
            if (WIFSIGNALED(status))
                snprintf(text, sizeof text, "killed by signal %d", WTERMSIG(status));
            else
                snprintf(text, sizeof text, "exited with %d", WEXITSTATUS(status));
            return text;
        }
        static void read_kernel(void) { printf("%d\\n", *(volatile int *)0xc1000000); }
        static void write_kernel(void) { *(volatile int *)0xc1000000 = 1; }
        static void cli(void) { __asm__ volatile("cli"); }
        static void ud2(void) { __asm__ volatile("ud2"); }
        static void exit_7(void) { _exit(7); }

        int main(void)
        {
            printf("test init: pid %d\\n", (int)getpid());
            printf("test init: a child that exits 7: %s\\n", how(in_child(exit_7)));
            printf("test init: a read of 0xc1000000: %s\\n", how(in_child(read_kernel)));
            printf("test init: a write to 0xc1000000: %s\\n", how(in_child(write_kernel)));
            printf("test init: cli: %s\\n", how(in_child(cli)));
            printf("test init: ud2: %s\\n", how(in_child(ud2)));
            fflush(stdout);
            reboot(RB_AUTOBOOT);
            return 1;
        }
        """

    @Test("M3: user mode: a static init prints through the tty, forks and waits; user code cannot touch the kernel's memory or run privileged instructions (the guest kernel's signals); reboot ends the run")
    func userMode() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.testInit.write(to: dir.appendingPathComponent("init.c"), atomically: true, encoding: .utf8)
        let cc = try Toolchain.run("gcc", ["-m32", "-static", "-O2", "-o", dir.appendingPathComponent("init").path,
                                           dir.appendingPathComponent("init.c").path])
        #expect(cc.succeeded, "\(cc.output)")
        let cpio = try Toolchain.run("sh", ["-c", "cd '\(dir.path)' && echo init | cpio -o -H newc > initrd.cpio 2>/dev/null"])
        #expect(cpio.succeeded)
        let r = try LinuxKernel.run(["--initrd", dir.appendingPathComponent("initrd.cpio").path])
        let expected = """
            test init: pid 1
            test init: a child that exits 7: exited with 7
            test init: a read of 0xc1000000: killed by signal 11
            test init: a write to 0xc1000000: killed by signal 11
            test init: cli: killed by signal 11
            test init: ud2: killed by signal 4

            """
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false).filter { $0.hasPrefix("test init: ") }
        #expect(lines.joined(separator: "\n") + "\n" == expected, "\(r.output.suffix(3000))")
        // reboot(RB_AUTOBOOT) resets the machine through port 0x64: status 0.
        #expect(r.status == 0, "\(r.output.suffix(2000))")
        #expect(!r.output.contains("previrt run: guest fault"))
    }

    @Test("usage errors: exit 64 and a message", arguments: [["--memory", "1"], ["--memory", "145"], ["--memory", "lots"]])
    func usage(_ arguments: [String]) throws {
        let r = try Toolchain.run(Fixture.previrt, ["run"] + arguments + ["--append", "x", "/dev/null"])
        #expect(r.status == 64, "\(r.output)")
        #expect(r.output.contains("--memory"), "\(r.output)")
    }

    @Test("--append and --initrd are refused for a multiboot guest; a missing initrd is exit 2")
    func multibootOptions() throws {
        let guest = try Guest.build()
        let r = try Toolchain.run(Fixture.previrt, ["run", "--append", "quiet", guest])
        #expect(r.status == 64, "\(r.output)")
        #expect(r.output.contains("--append and --initrd are for a PVH kernel"), "\(r.output)")
        let missing = try Toolchain.run(Fixture.previrt, ["run", "--initrd", "/nonexistent/initrd", guest])
        #expect(missing.status == 2, "\(missing.output)")
        #expect(missing.output.contains("/nonexistent/initrd"), "\(missing.output)")
    }

    @Test("hostile --initrd and --append: larger than guest RAM, a directory, a FIFO, a command line past the limit: a message and exit 2 or 64, no hang")
    func hostileBootInputs() throws {
        let kernel = try LinuxKernel.path()
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let big = dir.appendingPathComponent("big.img").path, fifo = dir.appendingPathComponent("fifo").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        try FileHandle(forWritingAtPath: big).map { try $0.truncate(atOffset: 200 << 20); try $0.close() }
        #expect(mkfifo(fifo, 0o600) == 0)
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["--initrd", big], 2, "--initrd: \(200 << 20) bytes do not fit in guest RAM above the kernel (--memory 64)"),
            (["--initrd", dir.path], 2, "\(dir.path): not a regular file"),
            (["--initrd", fifo], 2, "\(fifo): not a regular file"),
            (["--append", String(repeating: "a", count: 70_000)], 64, "--append must be at most 2000 bytes"),
        ]
        for c in cases {
            let r = try Toolchain.run("timeout", ["-s", "KILL", "60", Fixture.previrt, "run", "--timeout", "20"] + c.arguments + [kernel])
            #expect(r.status == c.status, "\(c.arguments.prefix(2)): \(r.output.prefix(500))")
            #expect(r.output.contains(c.message), "\(c.arguments.prefix(2)): \(r.output.prefix(500))")
        }
    }
}

@Suite("The MMU: the paging guest on QEMU and under previrt run", .serialized)
struct PagingGuestTests {
    @Test("4 KiB and 4 MiB pages, accessed and dirty bits, #PF with CR2 and the error code, invlpg, CR3: one transcript")
    func sameTranscript() throws {
        try BareGuest.expectSameTranscript("paging")
    }
}
