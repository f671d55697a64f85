// SPDX-License-Identifier: GPL-3.0-or-later
// The linux-user VMM's supervisor (Hosts/linux-user/pool.c), the process `previrt run` starts, runs no
// guest code but reads a byte a slot can write; once the slots are forked it is under its own seccomp
// filter (contain.c: contain_supervisor), built with the slot pids as constants. Here: the filter is
// there (/proc's Seccomp field), the calls it refuses kill the supervisor (through the test-only hook
// PREVIRT_TEST_SUPERVISOR_CALL, the supervisor's one way to make a call it never makes), the calls it
// allows still do their work, and every way a run ends still works under it.

import Foundation
import Testing

@Suite("linux-user VMM: the pool's supervisor is under its own seccomp filter", .serialized)
struct SupervisorContainmentTests {
    init() throws { _ = try Guest.build() }

    static let spin = "spin: jmp spin\n"

    @Test("after the fork the supervisor is in seccomp filter mode (Seccomp: 2), one filter, with no_new_privs")
    func filterInstalled() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let run = try VMMRun(["--address-spaces", "3", "--timeout", "30", guest.path], in: dir)
        try #require(run.waitForSlots(3).count == 3, "\(run.text)")
        #expect(run.waitForStatus("Seccomp", "2"), "\(VMMRun.status(run.supervisor))")
        let status = VMMRun.status(run.supervisor)
        #expect(status["Seccomp_filters"] == "1")
        #expect(status["NoNewPrivs"] == "1")
        #expect(kill(run.supervisor, SIGTERM) == 0)
        let end = run.wait(seconds: 10)
        #expect(end?.status == SIGTERM && end?.signalled == true, "\(run.text)")
        #expect(run.leftOver().isEmpty)
    }

    /// (what, PREVIRT_TEST_SUPERVISOR_CALL: "NR A B", i386 numbers; `other` is replaced by a pid that is
    /// not the run's)
    static let refused: [(what: String, call: String)] = [
        ("getpid, a call the supervisor never makes", "20 0 0"),
        ("write to standard output (the supervisor writes only to fd 2)", "4 1 0"),
        ("kill of a slot with a signal other than SIGKILL or SIGALRM", "37 slot 0"),
        ("kill of itself with a signal other than the four stop signals (SIGUSR1)", "37 self 10"),
        ("kill of a process that is not a slot (SIGKILL to a sleep the test started)", "37 other 9"),
        ("setitimer of another timer than ITIMER_REAL (ITIMER_VIRTUAL)", "104 1 0"),
        ("mmap2 of an anonymous page", "192 0 4096"),
    ]

    @Test("a call the filter does not allow kills the supervisor with SIGSYS; the slots go with it",
          arguments: 0..<refused.count)
    func refusedCall(_ index: Int) throws {
        let (what, form) = Self.refused[index]
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let bystander = Process()
        bystander.executableURL = URL(fileURLWithPath: "/bin/sleep")
        bystander.arguments = ["60"]
        try bystander.run()
        defer { kill(bystander.processIdentifier, SIGKILL); bystander.waitUntilExit() } // SIGTERM may be blocked in it
        let call = form.replacingOccurrences(of: "other", with: String(bystander.processIdentifier))
        let run = try VMMRun(["--address-spaces", "2", "--timeout", "30", guest.path], call: call, in: dir)
        let end = run.wait(seconds: 20)
        #expect(end?.status == SIGSYS && end?.signalled == true, "\(what): \(String(describing: end)) \(run.text)")
        #expect(run.text == "", "\(what)")
        #expect(run.leftOver().isEmpty, "\(what)")
        #expect(bystander.isRunning, "\(what): the process that is not a slot was killed")
    }

    @Test("the control: kill of slot 0 with SIGKILL is allowed and ends the run as a killed slot does (2)")
    func allowedKillOfSlot() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let run = try VMMRun(["--address-spaces", "2", "--timeout", "30", guest.path], call: "37 slot 9", in: dir)
        let end = run.wait(seconds: 20)
        #expect(end?.status == 2 && end?.signalled == false, "\(String(describing: end)) \(run.text)")
        #expect(run.text.hasPrefix("previrt run: the VMM's process for address-space slot 0 (pid "), "\(run.text)")
        #expect(run.text.hasSuffix(") was killed by signal 9 (Killed); the run is stopped\n"), "\(run.text)")
        #expect(run.leftOver().isEmpty)
    }

    @Test("the control: kill of itself with SIGTERM is allowed: it kills the slots and dies of SIGTERM")
    func allowedKillOfItself() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let run = try VMMRun(["--address-spaces", "2", "--timeout", "30", guest.path], call: "37 self 15", in: dir)
        let end = run.wait(seconds: 20)
        #expect(end?.status == SIGTERM && end?.signalled == true, "\(String(describing: end)) \(run.text)")
        #expect(run.text == "")
        #expect(run.leftOver().isEmpty)
    }

    /// (what, the guest's body, the exit status, the output)
    static let guestEndings: [(what: String, body: String, status: Int32, output: String)] = [
        ("a reset (0xfe to port 0x64)", "mov $0xfe, %al\nout %al, $0x64\n1: jmp 1b\n", 0, ""),
        ("hlt with interrupts off", "hlt\n", 4, "previrt run: the guest halted with interrupts off at "),
        ("isa-debug-exit", "mov $0x10, %al\nout %al, $0xf4\n", Guest.passStatus, ""),
    ]

    @Test("the guest's own endings come through the filtered supervisor: reset 0, halt 4, isa-debug-exit",
          arguments: 0..<guestEndings.count)
    func guestEnding(_ index: Int) throws {
        let (what, body, status, output) = Self.guestEndings[index]
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(body, in: dir)
        let run = try VMMRun(["--address-spaces", "3", "--timeout", "30", guest.path], in: dir)
        let end = run.wait(seconds: 20)
        #expect(end?.status == status && end?.signalled == false, "\(what): \(String(describing: end)) \(run.text)")
        #expect(output.isEmpty ? run.text.isEmpty : run.text.hasPrefix(output), "\(what): \(run.text)")
        #expect(run.leftOver().isEmpty, "\(what)")
    }

    @Test("--timeout when the running slot cannot answer (SIGSTOPped): the supervisor's own grace ends it, 124")
    func timeoutGrace() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let run = try VMMRun(["--address-spaces", "2", "--timeout", "1", guest.path], in: dir)
        let slots = run.waitForSlots(2)
        try #require(slots.count == 2, "\(run.text)")
        for pid in slots { #expect(kill(pid, SIGSTOP) == 0) } // the running slot's SIGALRM stays pending
        let end = run.wait(seconds: 20)
        #expect(end?.status == 124 && end?.signalled == false, "\(String(describing: end)) \(run.text)")
        #expect(run.text == "previrt run: timed out after 1 seconds (--timeout)\n")
        #expect(run.leftOver().isEmpty)
    }

    @Test("SIGSTOP and SIGCONT to the supervisor (job control): its wait goes on, and --timeout still ends the run")
    func stoppedAndContinued() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let run = try VMMRun(["--address-spaces", "2", "--timeout", "1.5", guest.path], in: dir)
        try #require(run.waitForSlots(2).count == 2, "\(run.text)")
        #expect(run.waitForStatus("Seccomp", "2"))
        #expect(kill(run.supervisor, SIGSTOP) == 0)
        usleep(300_000)
        #expect(kill(run.supervisor, SIGCONT) == 0)
        let end = run.wait(seconds: 20)
        #expect(end?.status == 124 && end?.signalled == false, "\(String(describing: end)) \(run.text)")
        #expect(run.text == "previrt run: timed out after 1.5 seconds (--timeout): the guest was stopped at \(guest.address("spin"))\n")
        #expect(run.leftOver().isEmpty)
    }

    @Test("SIGINT, SIGTERM, SIGHUP, SIGQUIT to the filtered supervisor: the slots go and it dies of the same signal",
          arguments: [SIGINT, SIGTERM, SIGHUP, SIGQUIT])
    func stopSignal(_ signal: Int32) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(Self.spin, in: dir)
        let run = try VMMRun(["--address-spaces", "3", "--timeout", "30", guest.path], in: dir)
        try #require(run.waitForSlots(3).count == 3, "\(run.text)")
        #expect(run.waitForStatus("Seccomp", "2"))
        #expect(kill(run.supervisor, signal) == 0)
        let end = run.wait(seconds: 10)
        #expect(end?.status == signal && end?.signalled == true, "\(String(describing: end)) \(run.text)")
        #expect(run.text == "")
        #expect(run.leftOver().isEmpty)
    }
}
