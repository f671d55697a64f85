// SPDX-License-Identifier: GPL-3.0-or-later
// Linux-on-Linux (issue 10, M3): guest user code cannot reach guest kernel memory through a TLS segment.
// The linux-user VMM fences %fs and %gs below 3 GiB (Hosts/linux-user/usermode.c) and performs the
// accesses glibc makes below its thread pointer (offsets that wrap) itself (Hosts/linux-user/tls.c). The
// guest init's "tls" group checks both sides on QEMU (bare hardware) and under `previrt run`: thread-local
// data and errno read and write the right values through %gs, per process after fork; a large %gs offset
// that reaches the kernel's text or data is SIGSEGV from the guest kernel.

import Foundation
import Testing

enum TLSFence {
    /// The address of `jiffies` in the cached vmlinux: a kernel data word the kernel writes at every tick,
    /// so that a VMM that let a user write through would find its page mapped and writable.
    static func jiffies() throws -> String {
        let r = try Toolchain.run("nm", [try LinuxGuest.kernel()])
        guard let line = r.output.split(separator: "\n").first(where: { $0.hasSuffix(" D jiffies") }) else {
            throw CorpusError("no jiffies in the vmlinux's symbols: \(r.output.prefix(500))")
        }
        return "0x" + line.split(separator: " ")[0]
    }

    static let expected = [
        "previrt userland: tls: __thread data and errno lie below the thread pointer (negative %gs offsets): ok",
        "previrt userland: tls: errno after a failing system call: ok",
        "previrt userland: tls: __thread words, halves and bytes written and read through %gs (mov, add, xchg, cmpxchg, inc): ok",
        "previrt userland: tls: cmp and test through %gs set the flags (register, immediate, both directions, 8, 16 and 32 bits): ok",
        "previrt userland: tls: 20000 adds and incs through %gs in a loop (the timer interrupts some of them): ok",
        "previrt userland: tls: a __thread array written through %gs by a child after fork stays per-process: ok",
        "previrt userland: tls: read of the kernel's text through %gs with a large offset: child killed by SIGSEGV: ok",
        "previrt userland: tls: add from the kernel's text through %gs with a large offset: child killed by SIGSEGV: ok",
        "previrt userland: tls: write to the kernel's memory through %gs with a large offset: child killed by SIGSEGV: ok",
    ]
}

@Suite("Linux-on-Linux: the TLS fence between guest user code and guest kernel memory")
struct LinuxOnLinuxIsolationTests {
    @Test("thread-local data works through %gs and no %gs offset reaches the kernel's memory", arguments: LinuxGuest.platforms)
    func tlsGroup(_ platform: LinuxGuestPlatform) throws {
        let r = try LinuxGuest.boot(on: platform, "tls tls_write=\(try TLSFence.jiffies())")
        let lines = LinuxGuest.initLines(r.output)
        #expect(LinuxGuest.checks(lines) == TLSFence.expected, "\(r.output.suffix(3000))")
        #expect(!r.output.contains("tls: the read returned") && !r.output.contains("tls: the add read")
                && !r.output.contains("went through"), "\(r.output.suffix(2000))")
        #expect(lines.last == "previrt userland: \(TLSFence.expected.count)/\(TLSFence.expected.count) checks passed")
        if let status = platform.restartStatus { #expect(r.status == status, "\(r.output.suffix(1000))") }
    }

    @Test("the tls group's lines are the same as on QEMU", arguments: LinuxGuest.comparedWithQEMU)
    func sameAsQEMU(_ platform: LinuxGuestPlatform) throws {
        let words = "tls tls_write=\(try TLSFence.jiffies())"
        let reference = LinuxGuest.initLines(try LinuxGuest.boot(on: .qemu, words).output)
        #expect(LinuxGuest.initLines(try LinuxGuest.boot(on: platform, words).output) == reference)
    }

    /// Under `previrt run --trace`, the VMM says what it did at each #GP through %fs or %gs: glibc's own
    /// accesses below the thread pointer and init's are performed (emulated or single-stepped), and the
    /// three accesses to the kernel's memory are refused (#GP for the guest kernel).
    @Test("previrt run --trace: the fence's fix-ups are emulated or stepped, and the kernel accesses refused")
    func fixUpsCounted() throws {
        let vmm = try Toolchain.make(["-s", "out/host/previrt-linux-user"])
        try #require(vmm.succeeded, "\(vmm.output)")
        let r = try Toolchain.run("timeout", ["-s", "KILL", "120", Fixture.previrt, "run", "--trace", "--initrd", try LinuxGuest.initramfs(),
                                              "--append", "console=ttyS0 idle=halt tls tls_write=\(try TLSFence.jiffies())",
                                              "--timeout", "100", try LinuxGuest.kernel()])
        let fence = r.output.split(separator: "\n").filter { $0.contains("trace: TLS fence: ") }
        let emulated = fence.filter { $0.contains("TLS fence: emulate at ") }.count
        let stepped = fence.filter { $0.contains("TLS fence: step at ") }.count
        let refused = fence.filter { $0.contains("TLS fence: #GP at ") }
        // init's checks alone emulate 17 accesses (mov, movzbl) in each of two processes and 8 compares,
        // and step 4 (add, xchg, cmpxchg, inc) in each process and 40,000 in the loop; glibc's start-up
        // adds its own.
        #expect(emulated >= 42, "\(fence.prefix(50))")
        #expect(stepped >= 40008, "\(fence.prefix(50))")
        #expect(refused.count == 3, "\(refused)")
        #expect(refused.allSatisfy { $0.contains("(gs:") }, "\(refused)")
        // (the console's last line may precede it on the same line: standard output is not a terminal)
        let summary = r.output.split(separator: "\n").compactMap { line in
            line.range(of: "previrt run: trace: TLS fence: totals").map { String(line[$0.lowerBound...]) }
        }.first
        #expect(summary == "previrt run: trace: TLS fence: totals: \(emulated) emulated, \(stepped) stepped, \(refused.count) refused",
                "\(summary ?? "no totals line")")
        #expect(LinuxGuest.initLines(r.output).last == "previrt userland: 9/9 checks passed", "\(r.output.suffix(2000))")
        #expect(r.status == 0)
    }
}
