// SPDX-License-Identifier: GPL-3.0-or-later
// The linux-user VMM's address-space pool (Hosts/linux-user/pool.c): `previrt run --address-spaces N`
// runs the guest in N host processes, each holding one guest address space, under a supervisor that runs
// no guest code. The guest's init passes its checks with one slot (every switch swaps pages in one
// process), two (more guest processes than slots: the least recently used slot is taken over) and the
// default; the slots are real processes that take turns; a slot killed from outside ends the run with the
// VMM-error status instead of leaving the guest hanging.

import Foundation
import Testing

@Suite("linux-user VMM: one host process per guest address space (--address-spaces)")
struct AddressSpacePoolTests {
    /// A guest that spins, run in the background with 3 slots; the run and its slots, once all 3 exist.
    static func spinningGuest(in dir: URL) throws -> (VMMRun, [pid_t]) {
        _ = try Guest.build()
        let guest = try HostileGuest.build("spin: jmp spin\n", in: dir)
        let run = try VMMRun(["--address-spaces", "3", "--timeout", "60", guest.path], in: dir)
        let slots = run.waitForSlots(3)
        try #require(slots.count == 3, "\(run.text)")
        return (run, slots)
    }

    /// nil: the default (no option).
    @Test("init's checks pass and the machine restarts with 1 slot, 2 slots (eviction) and the default",
          arguments: [1, 2, nil] as [Int?])
    func initPasses(_ slots: Int?) throws {
        let vmm = try Toolchain.make(["-s", "out/host/previrt-linux-user"])
        try #require(vmm.succeeded, "\(vmm.output)")
        let option = slots.map { ["--address-spaces", String($0)] } ?? []
        let r = try Toolchain.run("timeout", ["-s", "KILL", "120", Fixture.previrt, "run"] + option + [
            "--initrd", try LinuxGuest.initramfs(), "--append", LinuxGuestPlatform.previrtRun.kernelArguments,
            "--timeout", "100", try LinuxGuest.kernel()])
        let lines = LinuxGuest.initLines(r.output)
        let checks = LinuxGuest.checks(lines)
        #expect(checks.count >= 30, "\(r.output)")
        #expect(checks.allSatisfy { $0.hasSuffix(": ok") }, "\(checks.filter { !$0.hasSuffix(": ok") })")
        #expect(lines.last == "previrt userland: \(checks.count)/\(checks.count) checks passed", "\(r.output.suffix(2000))")
        #expect(r.status == 0, "\(r.output.suffix(2000))")
    }

    @Test("the slots are processes of their own that take turns: N children of the supervisor, each on the CPU",
          arguments: [1, 2, 3])
    func slotsTakeTurns(_ slots: Int) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Toolchain.make(["-s", "out/host/previrt-linux-user"])
        // The benchmark as init: pipe round trips between two processes, fork, exec; about a second or more.
        let run = try VMMRun(["--address-spaces", String(slots), "--memory", "128", "--timeout", "100",
                                     "--initrd", try LinuxGuest.initramfs(), "--append", "console=ttyS0 idle=halt panic=-1 rdinit=/bench",
                                     try LinuxGuest.kernel()], in: dir)
        var seen: [pid_t: UInt64] = [:]
        var started: [pid_t: UInt64] = [:]
        while run.process.isRunning {
            for pid in run.slots {
                guard let time = VMMRun.cpuTime(pid) else { continue }
                if started[pid] == nil { started[pid] = time }
                seen[pid] = time
            }
            usleep(5_000)
        }
        #expect(run.process.terminationStatus == 0, "\(run.text.suffix(2000))")
        #expect(run.text.contains("previrt bench: done"), "\(run.text.suffix(2000))")
        #expect(seen.count == slots, "slots seen: \(seen)")
        // Every slot ran guest code after it was first seen, 5 ms or more (the benchmark's processes use
        // them all; starting a slot, its seccomp filter included, takes well under 1 ms).
        for (pid, time) in seen {
            #expect(time > (started[pid] ?? 0) + 5_000_000, "slot \(pid) ran \(time - (started[pid] ?? 0)) ns: \(seen)")
        }
    }

    @Test("a slot killed from outside (SIGKILL) ends the run at once with status 2 and a message; no process is left",
          arguments: [0, 1])
    func killedSlot(_ index: Int) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (run, slots) = try Self.spinningGuest(in: dir)
        usleep(200_000) // slot 0 runs the guest's loop; the others wait for a turn that never comes
        let start = Date()
        #expect(kill(slots[index], SIGKILL) == 0)
        let status = run.wait(seconds: 10)?.status
        #expect(status == 2, "\(run.text)")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(run.text == "previrt run: the VMM's process for address-space slot \(index) (pid \(slots[index])) was killed by "
            + "signal 9 (Killed); the run is stopped\n")
        for pid in slots { #expect(kill(pid, 0) != 0, "slot \(pid) is still there") }
    }

    @Test("SIGTERM to the supervisor: the slots go and it dies of SIGTERM, as the one-process VMM did")
    func terminated() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (run, slots) = try Self.spinningGuest(in: dir)
        #expect(kill(run.process.processIdentifier, SIGTERM) == 0)
        #expect(run.wait(seconds: 10)?.status == SIGTERM, "\(run.text)")
        #expect(run.process.terminationReason == .uncaughtSignal)
        #expect(run.text == "")
        for pid in slots { #expect(kill(pid, 0) != 0, "slot \(pid) is still there") }
    }

    @Test("--timeout with 3 slots: the running slot names where the guest was; exit 124")
    func timeout() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Guest.build()
        let guest = try HostileGuest.build("spin: jmp spin\n", in: dir)
        let r = try Toolchain.run("timeout", ["-s", "KILL", "30", Fixture.previrt, "run", "--address-spaces", "3", "--timeout", "0.5", guest.path])
        #expect(r.status == 124)
        #expect(r.output == "previrt run: timed out after 0.5 seconds (--timeout): the guest was stopped at \(guest.address("spin"))\n")
    }

    @Test("--address-spaces outside 1-32 is a usage error, from previrt run and from the VMM", arguments: ["0", "33", "-1", "two"])
    func badCount(_ value: String) throws {
        let guest = try Guest.build()
        let r = try Toolchain.run(Fixture.previrt, ["run", "--address-spaces", value, guest])
        #expect(r.status == 64, "\(r.output)")
        let vmm = Toolchain.packageRoot.appendingPathComponent("out/host/previrt-linux-user").path
        let direct = try Toolchain.run(vmm, ["--address-spaces", value, guest])
        #expect(direct.status == 64, "\(direct.output)")
        #expect(direct.output == "previrt run: --address-spaces \(value): not a whole number from 1 to 32\n")
    }

    /// futex forms a guest that flipped the dispatch selector might try, (what, the registers before int $0x80);
    /// `turn` is the address of the pool's futex words (pool_turn).
    static func futexCalls(turn: UInt32) -> [(what: String, setup: String)] {
        [("futex on the VMM's image, not a turn word", "mov $0xe8000000, %ebx\nmov $1, %ecx\nmov $1, %edx"),
         ("futex just past the turn words", "mov $\(turn + 4 * 32), %ebx\nmov $1, %ecx\nmov $1, %edx"),
         ("futex requeue on a turn word", "mov $\(turn), %ebx\nmov $3, %ecx\nmov $1, %edx\nxor %esi, %esi\nmov $\(turn + 4), %edi"),
         ("futex wait with a timeout on a turn word", "mov $\(turn + 4), %ebx\nxor %ecx, %ecx\nxor %edx, %edx\nmov $\(turn), %esi")]
    }

    @Test("seccomp: futex only waits or wakes on the turn words, without a timeout; other forms are stopped", arguments: 0..<4)
    func futexStopped(_ index: Int) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let symbols = try HostileGuest.vmmSymbols()
        let selector = try #require(symbols["vmm_selector"]), turn = try #require(symbols["pool_turn"])
        let (what, setup) = Self.futexCalls(turn: turn)[index]
        let guest = try HostileGuest.escaping(240, setup: setup, selector: selector, in: dir)
        let r = try Toolchain.run("timeout", ["-s", "KILL", "30", Fixture.previrt, "run", "--address-spaces", "2", guest.path])
        #expect(r.status == 2, "\(what): \(r.output)")
        #expect(r.output == guest.seccompVerdict(240), "\(what)")
    }

    @Test("seccomp, the control: a wake on another slot's turn word is allowed (that slot waits on), the guest goes on")
    func futexAllowed() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let symbols = try HostileGuest.vmmSymbols()
        let selector = try #require(symbols["vmm_selector"]), turn = try #require(symbols["pool_turn"])
        let guest = try HostileGuest.build("""
                movb $0, \(selector)
                mov $\(turn + 4), %ebx
                mov $1, %ecx
                mov $1, %edx
                mov $240, %eax
                .byte 0xcd, 0x80
                movb $1, \(selector)
                cmp $0xfffff000, %eax
                jae 1f
                mov $0x10, %al
                out %al, $0xf4
            1:  mov $0x11, %al
                out %al, $0xf4
            """, in: dir)
        let r = try Toolchain.run("timeout", ["-s", "KILL", "30", Fixture.previrt, "run", "--address-spaces", "2", guest.path])
        #expect(r.status == Guest.passStatus, "\(r.output)")
        #expect(r.output == "")
    }
}
