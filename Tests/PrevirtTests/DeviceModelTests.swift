// SPDX-License-Identifier: GPL-3.0-or-later
// The linux-user VMM's device models (Hosts/linux-user/devices: the 8259A pair, the 8254 with port
// 0x61, the 16550A): their C unit test (Tests/Devices/devices_test.c), which drives each model with
// Linux 6.1's own port sequences, passes when built as the VMM is and when built with ASan and UBSan,
// and the models stay freestanding (`make device-tests` checks their undefined symbols). Every check
// is live: the program run with one expectation inverted (`--flip N`) fails that check, and only it.

import Foundation
import Testing

@Suite("Device models for Linux-on-Linux (8259A, 8254, 16550A)", .serialized)
struct DeviceModelTests {
    /// The program's summary lines, "devices-test: N checks, F failed", as (N, F).
    static func summaries(_ output: String) -> [(checks: Int, failed: Int)] {
        output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 5, words[0] == "devices-test:", words[2] == "checks,", words[4] == "failed",
                  let checks = Int(words[1]), let failed = Int(words[3]) else { return nil }
            return (checks, failed)
        }
    }

    static let program = Toolchain.packageRoot.appendingPathComponent("out/host/devices-test").path

    static func run(_ arguments: [String]) throws -> CommandResult {
        try Toolchain.run("timeout", ["-s", "KILL", "60", program] + arguments)
    }

    @Test("make device-tests: every check passes, as the VMM is built and under ASan and UBSan")
    func passes() throws {
        let r = try Toolchain.make(["-s", "device-tests"])
        #expect(r.status == 0, "\(r.output)")
        let results = Self.summaries(r.output)
        #expect(results.count == 2, "one summary per build: \(r.output)")
        for result in results {
            #expect(result.failed == 0, "\(r.output)")
            #expect(result.checks >= 200, "\(r.output)")
        }
        #expect(Set(results.map(\.checks)).count == 1, "both builds run the same checks: \(r.output)")
    }

    @Test("a wrong expectation fails: with any one check inverted the program exits 1 and names it")
    func everyCheckCanFail() throws {
        let built = try Toolchain.make(["-s", "out/host/devices-test"])
        try #require(built.succeeded, "\(built.output)")
        let plain = try Self.run([])
        let total = try #require(Self.summaries(plain.output).first, "\(plain.output)").checks
        #expect(plain.status == 0, "\(plain.output)")
        for n in 1...total {
            let r = try Self.run(["--flip", String(n)])
            #expect(r.status == 1, "check \(n) inverted: \(r.output)")
            #expect(r.output.contains("FAIL check \(n) "), "check \(n) inverted: \(r.output)")
            #expect(Self.summaries(r.output).first?.failed == 1, "check \(n) inverted: \(r.output)")
        }
        let beyond = try Self.run(["--flip", String(total + 1)])
        #expect(beyond.status == 0, "there is no check \(total + 1): \(beyond.output)")
        #expect(try Self.run(["--bogus"]).status == 64)
    }

    /// The lines of a script transcript: "step port value" and the end marker.
    static func transcript(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { line in
            line == "end of script" || line.wholeMatch(of: /[0-9a-f]{3} [0-9a-f]{3} [0-9a-f]{2}/) != nil
        }
    }

    @Test("QEMU's own PC devices and the models answer Linux's port sequences alike")
    func matchesQEMU() throws {
        let built = try Toolchain.make(["-s", "device-probe"])
        try #require(built.succeeded, "\(built.output)")
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let serial = dir.appendingPathComponent("com1.out")
        let probe = Toolchain.packageRoot.appendingPathComponent("out/host/devices-qemu-probe.elf").path
        let qemu = try Toolchain.run("timeout", [
            "-s", "KILL", "60", "qemu-system-i386", "-display", "none", "-no-reboot", "-serial", "file:\(serial.path)",
            "-debugcon", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", probe,
        ])
        #expect(qemu.status == 33, "the probe guest exits through isa-debug-exit: \(qemu.output)")
        let models = try Self.run(["--script"])
        #expect(models.status == 0, "\(models.output)")
        let onQEMU = Self.transcript(qemu.output), onModels = Self.transcript(models.output)
        #expect(onQEMU.count >= 60 && onQEMU.last == "end of script", "\(qemu.output)")
        #expect(onQEMU == onModels, "first difference (QEMU, models): \(zip(onQEMU, onModels).first { $0 != $1 }.map { "\($0)" } ?? "in length")")
        // The transcript holds what Linux's probes look for: a 16550A's IIR with the FIFOs on, and
        // the loopback test's MSR.
        #expect(onQEMU.contains { $0.hasSuffix(" 3fa c1") } && onQEMU.contains { $0.hasSuffix(" 3fe 90") })
        let sent = try Data(contentsOf: serial).map { String(format: " %02x", $0) }.joined()
        #expect(models.output.contains("transmitted:\(sent)\n") && !sent.isEmpty, "COM1 on QEMU sent\(sent)")
    }
}
