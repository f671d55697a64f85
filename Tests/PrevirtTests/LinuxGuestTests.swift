// SPDX-License-Identifier: GPL-3.0-or-later
// Linux-on-Linux (issue 10): the i386 Linux 6.1 guest kernel (Kernel/guest-i386.config, built once with
// the macro set by Kernel/build-guest.sh) boots with the guest userland (Kernel/userland) as its
// initramfs, and its init's checks pass: processes, pipes, memory, signals, the timer; a user process
// cannot touch the kernel's memory; privileged instructions and faults in user mode are the guest
// kernel's to handle. Each platform in `LinuxGuest.platforms` boots the same vmlinux file, byte for
// byte, and must print the same init lines as QEMU.

import Foundation
import Testing

/// Where the guest kernel runs. QEMU (TCG) stands for bare hardware; `previrt run` is the linux-user VMM.
enum LinuxGuestPlatform: String, Sendable, CustomTestStringConvertible {
    case qemu = "qemu-system-i386"
    case previrtRun = "previrt run"

    var testDescription: String { rawValue }

    /// The kernel's command line on this platform, before the words for init.
    var kernelArguments: String {
        switch self {
        // No panic=: a kernel panic hangs, like init's halt on a failed check, so that QEMU's exit status
        // 0 (init restarted the machine) means every check passed.
        case .qemu: "console=ttyS0"
        // What the linux-user VMM needs the kernel to avoid (Docs/linux-on-linux.md): the idle loop's hlt,
        // not MONITOR/MWAIT (cpuid hides them anyway). No panic= either: a panic spins until --timeout (124).
        case .previrtRun: "console=ttyS0 idle=halt"
        }
    }

    /// The exit status when init restarts the machine, which it does only when every check passed
    /// (tinyconfig has no ACPI, so no power-off; on failure init halts): QEMU with -no-reboot exits 0.
    /// `previrt run` exits 0 for the reset through port 0x64 that Linux's restart is, and 4 for a halt (hlt
    /// with interrupts off), so its status carries the same verdict.
    var restartStatus: Int32? {
        switch self {
        case .qemu: 0
        case .previrtRun: 0
        }
    }

    /// Boots `kernel` with `initrd` and the command line `append`; at most 120 s.
    func boot(kernel: String, initrd: String, append: String) throws -> CommandResult {
        let commandLine = "\(kernelArguments) \(append)"
        var r: CommandResult
        switch self {
        case .qemu:
            r = try Guest.bootOnQEMU("qemu-system-i386", kernel, commandLine, initrd: initrd)
        case .previrtRun:
            let vmm = try Toolchain.make(["-s", "out/host/previrt-linux-user"]) // the VMM `previrt run` starts
            guard vmm.succeeded else { throw CorpusError("cannot build the linux-user VMM: \(vmm.output)") }
            r = try Toolchain.run("timeout", ["-s", "KILL", "120", Fixture.previrt, "run", "--initrd", initrd,
                                              "--append", commandLine, "--timeout", "100", kernel])
        }
        r.output = r.output.replacingOccurrences(of: "\r", with: "")
        return r
    }
}

enum LinuxGuest {
    /// The platforms every test below runs on: each test runs on each, and the init lines of every
    /// platform but QEMU are compared with QEMU's.
    static let platforms: [LinuxGuestPlatform] = [.qemu, .previrtRun]

    /// The platforms compared with QEMU, the reference (bare hardware).
    static var comparedWithQEMU: [LinuxGuestPlatform] { platforms.filter { $0 != .qemu } }

    static let initPrefix = "previrt userland: "

    /// The init's lines in a console transcript: each line that carries `prefix`, from the prefix on.
    /// The kernel's own lines (which name devices, memory sizes and timings, and may differ between
    /// platforms) are left out; the init's lines may not differ.
    static func initLines(_ transcript: String, prefix: String = initPrefix) -> [String] {
        transcript.replacingOccurrences(of: "\r", with: "").split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
            line.range(of: prefix).map { String(line[$0.lowerBound...]) }
        }
    }

    /// The cached vmlinux (GuestKernel, shared with the other Linux-on-Linux tests).
    static func kernel() throws -> String { try GuestKernel.path() }

    /// The i386 initramfs (init, child, bench), built with the project's Makefile.
    static func initramfs() throws -> String {
        let r = try Toolchain.make(["-s", ".build/userland/initramfs-i386.cpio"])
        guard r.succeeded else { throw CorpusError("cannot build the guest userland: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent(".build/userland/initramfs-i386.cpio").path
    }

    /// Boots the cached kernel with the userland on `platform`; `groups` are init's words.
    static func boot(on platform: LinuxGuestPlatform, _ groups: String = "") throws -> CommandResult {
        try platform.boot(kernel: try kernel(), initrd: try initramfs(), append: groups)
    }

    /// The check lines ("name: ok" or "name: FAILED: why") among init's lines.
    static func checks(_ lines: [String]) -> [String] {
        lines.filter { $0.hasSuffix(": ok") || $0.contains(": FAILED") }
    }
}

@Suite("Linux guest kernel with the guest userland")
struct LinuxGuestTests {
    @Test("every check of init passes, the verdict counts them, and the machine restarts", arguments: LinuxGuest.platforms)
    func allChecksPass(_ platform: LinuxGuestPlatform) throws {
        let r = try LinuxGuest.boot(on: platform)
        let lines = LinuxGuest.initLines(r.output)
        let checks = LinuxGuest.checks(lines)
        #expect(lines.first == "previrt userland: init started (pid 1), groups: m4 isolation privileged faults", "\(r.output)")
        #expect(checks.count >= 30, "\(r.output)")
        #expect(checks.allSatisfy { $0.hasSuffix(": ok") }, "\(checks.filter { !$0.hasSuffix(": ok") })")
        #expect(lines.last == "previrt userland: \(checks.count)/\(checks.count) checks passed", "\(r.output)")
        #expect(lines.contains("previrt userland: exec: /child running, argc 2, argv[1] exec-argument, PREVIRT_USERLAND=child, parent is init"))
        #expect(r.output.hasSuffix("reboot: Restarting system\n"), "\(r.output.suffix(500))")
        if let status = platform.restartStatus { #expect(r.status == status) }
    }

    @Test("a user process that reads or writes the kernel's memory is killed by the guest kernel with SIGSEGV",
          arguments: LinuxGuest.platforms)
    func userIsolation(_ platform: LinuxGuestPlatform) throws {
        let r = try LinuxGuest.boot(on: platform, "isolation")
        let checks = LinuxGuest.checks(LinuxGuest.initLines(r.output))
        #expect(checks == [
            "previrt userland: isolation: read of the kernel's first address from user mode: child killed by SIGSEGV: ok",
            "previrt userland: isolation: read of the kernel's text from user mode: child killed by SIGSEGV: ok",
            "previrt userland: isolation: write to the kernel's memory from user mode: child killed by SIGSEGV: ok",
        ], "\(r.output)")
        #expect(!r.output.contains("isolation: the read returned"))
    }

    @Test("an unannotated privileged instruction in user mode gets SIGSEGV from the guest kernel; faults their signals",
          arguments: LinuxGuest.platforms)
    func privilegedInstructions(_ platform: LinuxGuestPlatform) throws {
        let r = try LinuxGuest.boot(on: platform, "privileged faults")
        let checks = LinuxGuest.checks(LinuxGuest.initLines(r.output))
        let expected = ["cli", "sti", "hlt", "in from port 0x64", "out to port 0x80", "mov from cr0", "mov to cr3", "lidt", "wbinvd", "rdmsr"]
            .map { "previrt userland: privileged: \($0) in user mode: child killed by SIGSEGV: ok" }
            + ["previrt userland: privileged: popf in user mode does not clear the interrupt flag: ok"]
            + [("ud2 (#UD)", "ILL"), ("int3 (#BP)", "TRAP"), ("divide by zero (#DE)", "FPE"),
               ("int $0x81, a gate user mode may not use (#GP)", "SEGV"), ("read of address 16, not mapped (#PF)", "SEGV")]
            .map { "previrt userland: faults: \($0.0): child killed by SIG\($0.1): ok" }
        #expect(checks == expected, "\(r.output)")
        // The guest kernel, not the host, ended each child: the guest init reported it, and then the
        // machine restarted normally.
        #expect(LinuxGuest.initLines(r.output).last == "previrt userland: \(expected.count)/\(expected.count) checks passed")
        if let status = platform.restartStatus { #expect(r.status == status) }
    }

    @Test("the file booted is the cached vmlinux itself, with the PVH entry note, unchanged by the boot",
          arguments: LinuxGuest.platforms)
    func bootsTheCachedFile(_ platform: LinuxGuestPlatform) throws {
        let kernel = try LinuxGuest.kernel()
        #expect(URL(fileURLWithPath: kernel).standardizedFileURL.path
            == URL(fileURLWithPath: GuestKernel.work).appendingPathComponent("guest-i386/vmlinux").standardizedFileURL.path)
        // XEN_ELFNOTE_PHYS32_ENTRY (type 0x12, owner "Xen"): what lets qemu-system-i386 -kernel boot vmlinux.
        let notes = try Toolchain.run("readelf", ["-n", kernel])
        #expect(notes.output.contains("Xen                  0x00000004\tUnknown note type: (0x00000012)"), "\(notes.output)")
        let before = try Data(contentsOf: URL(fileURLWithPath: kernel))
        let r = try platform.boot(kernel: kernel, initrd: try LinuxGuest.initramfs(), append: "m4")
        // The banner the kernel printed is the one in this file (the build stamps user, host and date).
        let banner = try #require(r.output.split(separator: "\n").first { $0.hasPrefix("Linux version ") }, "\(r.output)")
        #expect(before.range(of: Data(banner.utf8)) != nil, "\(banner)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: kernel)) == before)
        #expect(LinuxGuest.initLines(r.output).last?.hasSuffix("checks passed") == true)
    }

    @Test("init's lines are the same on every platform as on QEMU (kernel log lines may differ)",
          arguments: LinuxGuest.comparedWithQEMU)
    func sameTranscriptAsQEMU(_ platform: LinuxGuestPlatform) throws {
        let reference = LinuxGuest.initLines(try LinuxGuest.boot(on: .qemu).output)
        let r = try LinuxGuest.boot(on: platform)
        #expect(LinuxGuest.initLines(r.output) == reference, "\(r.output)")
    }

    @Test("initLines keeps init's lines, whole and in order, and leaves out the kernel's")
    func initLinesExtraction() {
        let transcript = "Linux version 6.1\r\nserial8250: ttyS0 at I/O 0x3f8\r\nRun /init as init process\r\n"
            + "previrt userland: init started (pid 1), groups: m4\r\n[    0.5] random: crng init done\r\n"
            + "previrt userland: fork: child exited with status 42: ok\r\n"
            + "kernel text previrt userland: 1/1 checks passed\r\nreboot: Restarting system\r\n"
        #expect(LinuxGuest.initLines(transcript) == [
            "previrt userland: init started (pid 1), groups: m4",
            "previrt userland: fork: child exited with status 42: ok",
            "previrt userland: 1/1 checks passed",
        ])
        #expect(LinuxGuest.initLines("previrt bench: start\nx\n", prefix: "previrt bench: ") == ["previrt bench: start"])
    }
}
