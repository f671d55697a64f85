// SPDX-License-Identifier: GPL-3.0-or-later
// The linux-user VMM contains its guest: system call instructions in guest code never reach the host
// kernel, guest faults are named (or delivered to the guest's virtual IDT), a lost console and a
// timeout end the run with a documented status. Each guest is assembled here with the real macro set.

import Foundation
import Testing

/// A hostile i386 guest: `body` runs after an annotated `cli` (so the guest has a PreVirt note) with a
/// stack in the guest's .bss; `data` goes to .data. `set_gate VECTOR, HANDLER` installs an interrupt gate.
struct HostileGuest {
    let path: String
    let symbols: [String: UInt32]

    static let prologue = """
        .macro set_gate vector, handler
            mov $\\handler, %eax
            mov %ax, idt + 8 * \\vector
            movw $0x10, idt + 8 * \\vector + 2
            movw $0x8e00, idt + 8 * \\vector + 4
            shr $16, %eax
            mov %ax, idt + 8 * \\vector + 6
            lidt idtr
        .endm
        .globl _start
        _start:
            cli
            mov $stack_top, %esp

        """

    static func build(_ body: String, data: String = "", in dir: URL) throws -> HostileGuest {
        let source = prologue + body + """

            .data
            idtr: .word 256 * 8 - 1
                  .long idt
            \(data)
            .bss
            .balign 16
            idt: .space 256 * 8
            .space 8192
            stack_top:

            """
        try source.write(to: dir.appendingPathComponent("g.s"), atomically: true, encoding: .utf8)
        let assembled = try Toolchain.run("as", ["--32", try Toolchain.macroSet(.i386), "g.s", "-o", "g.o"], in: dir)
        guard assembled.succeeded else { throw CorpusError("as: \(assembled.output)") }
        let linked = try Toolchain.run("ld", ["-m", "elf_i386", "-Ttext=0x100000", "-o", "g.elf", "g.o"], in: dir)
        guard linked.succeeded else { throw CorpusError("ld: \(linked.output)") }
        let path = dir.appendingPathComponent("g.elf").path
        return HostileGuest(path: path, symbols: try Self.symbols(path))
    }

    /// Symbol name to address, from nm.
    static func symbols(_ path: String) throws -> [String: UInt32] {
        var table: [String: UInt32] = [:]
        for line in try Toolchain.run("nm", [path]).output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, let address = UInt32(fields[0], radix: 16) { table[String(fields[2])] = address }
        }
        return table
    }

    func address(_ symbol: String) -> String { "0x" + String(symbols[symbol] ?? 0, radix: 16) }
}

/// Runs `previrt run ARGS` with standard output sent to `stdout` (a shell redirection), under timeout(1).
func runRedirected(_ arguments: [String], stdout redirection: String) throws -> CommandResult {
    try Toolchain.run("timeout", ["-s", "KILL", "30", "sh", "-c", "exec \"$@\" \(redirection)", "sh", Fixture.previrt, "run"] + arguments)
}

@Suite("linux-user VMM: the guest cannot reach its host", .serialized)
struct GuestContainmentTests {
    init() throws { _ = try Guest.build() }

    @Test("a raw int $0x80 write to fd 1 prints nothing on the host and is named as a stopped system call")
    func intWrite() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("""
                mov $4, %eax
                mov $1, %ebx
                mov $msg, %ecx
                mov $8, %edx
            escape: .byte 0xcd, 0x80
                mov $0x10, %al
                out %al, $0xf4
            """, data: "msg: .ascii \"ESCAPED\\n\"", in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(!r.output.contains("ESCAPED"))
        #expect(r.status == 2)
        #expect(r.output == "previrt run: guest fault: int $0x80 at \(guest.address("escape")) (eax 4): the guest's virtual IDT "
            + "has no gate for vector 0x80; the host system call was stopped\n")
    }

    /// execve("/bin/sh", ["/bin/sh", "-c", "echo escaped > FILE"]) by int $0x80, after `before`.
    func execve(_ before: String, in dir: URL, creating file: URL) throws -> HostileGuest {
        try HostileGuest.build(before + """
                mov $11, %eax
                mov $sh, %ebx
                mov $argv, %ecx
                xor %edx, %edx
            escape: .byte 0xcd, 0x80
                mov $0x10, %al
                out %al, $0xf4
            """, data: """
            sh: .asciz "/bin/sh"
            dash_c: .asciz "-c"
            command: .asciz "echo escaped > \(file.path)"
            argv: .long sh, dash_c, command, 0
            """, in: dir)
    }

    @Test("a raw int $0x80 execve of /bin/sh runs no shell and creates no file")
    func intExecve() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("escaped")
        let guest = try execve("", in: dir, creating: file)
        let r = try runUnderLinuxUser(guest.path)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(r.status == 2)
        #expect(r.output.contains("int $0x80 at \(guest.address("escape")) (eax 11)"), "\(r.output)")
    }

    @Test("a guest that flips the dispatch selector is stopped by the seccomp filter: no shell, no file")
    func selectorFlipped() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let selector = try #require(try HostileGuest.vmmSymbols()["vmm_selector"])
        let file = dir.appendingPathComponent("escaped")
        let guest = try execve("    movb $0, \(selector)\n", in: dir, creating: file)
        let r = try runUnderLinuxUser(guest.path)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(r.status == 2)
        #expect(r.output == guest.seccompVerdict(11))
    }

    @Test("sysenter from guest code is stopped; the message names the return address on the guest's stack")
    func sysenter() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("""
                push $back
                push %ecx
                push %edx
                push %ebp
                mov %esp, %ebp
                mov $20, %eax
                sysenter
            back:
                mov $0x10, %al
                out %al, $0xf4
            """, in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.status == 2)
        #expect(r.output.hasPrefix("previrt run: guest fault: sysenter (eax 20): the host lost its address; the return address "
            + "on the guest's stack (ebp "), "\(r.output)")
        #expect(r.output.hasSuffix(") is \(guest.address("back")); the host system call was stopped\n"), "\(r.output)")
    }

    @Test("syscall in 32-bit guest code is #UD at its address (from the CPU, or from the VMM when Syscall User Dispatch stops it)")
    func syscall() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("""
                mov $20, %eax
            escape: syscall
                mov $0x10, %al
                out %al, $0xf4
            """, in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.status == 2)
        #expect(r.output.hasPrefix("previrt run: guest fault: #UD at \(guest.address("escape")) (syscall"), "\(r.output)")
    }

    @Test("int $0x80 goes to the guest's own gate for vector 0x80, as on hardware, with the return address after it")
    func intReflected() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(gateCheck(vector: 0x80, trigger: """
                mov $4, %eax
                mov $1, %ebx
            escape: .byte 0xcd, 0x80
            """), in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.output == "")
        #expect(r.status == Guest.passStatus)
    }
}

@Suite("linux-user VMM: guest faults are named, or delivered to the guest's IDT", .serialized)
struct GuestFaultTests {
    init() throws { _ = try Guest.build() }

    static let faults: [(body: String, message: String)] = [
        ("fault: .byte 0xfa", "#GP at @ (cli, not annotated: rebuild with the macro set)"),
        ("fault: .byte 0xf4", "#GP at @ (hlt, not annotated: rebuild with the macro set)"),
        ("fault: .byte 0xe4, 0x60", "#GP at @ (in, not annotated: rebuild with the macro set)"),
        ("fault: ud2", "#UD at @ (bytes 0f 0b"),
        ("fault: int3", "#BP at @ (bytes cc"),
        ("xor %edx, %edx\nmov $1, %eax\nxor %ecx, %ecx\nfault: div %ecx", "#DE at @ (bytes f7 f1"),
        ("mov $0xdead0000, %eax\nfault: jmp *%eax", "#PF at 0xdead0000: instruction fetch from 0xdead0000, which is not guest memory"),
        ("fault: movl $1, 0xdead0000", "#PF at @: write to 0xdead0000, which is not guest memory (bytes c7 05 00 00"),
    ]

    @Test("a fault in guest code without a gate: exit 2 and the fault, address and instruction", arguments: 0..<faults.count)
    func reported(_ index: Int) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (body, message) = Self.faults[index]
        let guest = try HostileGuest.build(body + "\nmov $0x10, %al\nout %al, $0xf4\n", in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.status == 2)
        #expect(r.output.hasPrefix("previrt run: guest fault: " + message.replacingOccurrences(of: "@", with: guest.address("fault"))), "\(r.output)")
    }

    @Test("an annotated instruction whose operand is not guest memory: the emulator's fault is named with the site")
    func emulatorOperand() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("fault: lgdt 0xdead0000\nmov $0x10, %al\nout %al, $0xf4\n", in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.status == 2)
        #expect(r.output == "previrt run: guest fault: lgdt at \(guest.address("fault")): its operand at 0xdead0000 is not guest memory\n")
    }

    @Test("ud2 goes to the guest's #UD gate with the faulting address on the stack")
    func undefinedDelivered() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("""
                set_gate 6, handler
            fault: ud2
                mov $0x11, %al
                out %al, $0xf4
            handler:
                cmpl $fault, (%esp)
                jne 1f
                mov $0x10, %al
                out %al, $0xf4
            1:  mov $0x12, %al
                out %al, $0xf4
            """, in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.output == "")
        #expect(r.status == Guest.passStatus)
    }

    @Test("a page fault goes to the guest's #PF gate: virtual CR2 is the address, the error code says fetch in ring 0")
    func pageFaultDelivered() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("""
                set_gate 14, handler
                mov $0xdead0000, %eax
                jmp *%eax
            handler:
                mov %cr2, %eax
                cmp $0xdead0000, %eax
                jne 1f
                cmpl $0x10, (%esp)
                jne 1f
                cmpl $0xdead0000, 4(%esp)
                jne 1f
                mov $0x10, %al
                out %al, $0xf4
            1:  mov $0x12, %al
                out %al, $0xf4
            """, in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.output == "")
        #expect(r.status == Guest.passStatus)
    }

    @Test("a raw int $n is delivered through the guest's gate, as in ring 0")
    func rawIntDelivered() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build(gateCheck(vector: 0x30, trigger: "fault: .byte 0xcd, 0x30"), in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.output == "")
        #expect(r.status == Guest.passStatus)
    }
}

@Suite("linux-user VMM: lost console output, --timeout, inputs that are not guests", .serialized)
struct RunCommandTests {
    init() throws { _ = try Guest.build() }

    /// A private device like /dev/full (char 1:7: every write fails with ENOSPC), or /dev/full itself
    /// where mknod is not permitted: other tests may replace files around /dev.
    static func fullDevice(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("full").path
        return try Toolchain.run("mknod", [path, "c", "1", "7"]).succeeded ? path : "/dev/full"
    }

    @Test("the demo guest with standard output on a full device or closed: exit 2, the transcript is not a pass", arguments: ["full", "closed"])
    func lostConsole(_ kind: String) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let redirection = kind == "full" ? "> \(try Self.fullDevice(in: dir))" : ">&-"
        let r = try runRedirected([try Guest.build()], stdout: redirection)
        #expect(r.status == 2)
        #expect(r.output == "previrt run: cannot write the guest's console output to standard output: "
            + (kind == "full" ? "No space left on device\n" : "Bad file descriptor\n"))
    }

    @Test("a guest that writes forever to a full device stops at the first failed write")
    func writesForever() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("""
                mov $0x3f8, %dx
            1:  mov $'x', %al
                out %al, %dx
                jmp 1b
            """, in: dir)
        let r = try runRedirected([guest.path], stdout: "> \(try Self.fullDevice(in: dir))")
        #expect(r.status == 2)
        #expect(r.output == "previrt run: cannot write the guest's console output to standard output: No space left on device\n")
    }

    @Test("--timeout stops a guest that spins: exit 124 and a message")
    func timeout() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let guest = try HostileGuest.build("spin: jmp spin\n", in: dir)
        let start = Date()
        let r = try Toolchain.run("timeout", ["-s", "KILL", "30", Fixture.previrt, "run", "--timeout", "0.5", guest.path])
        #expect(r.status == 124)
        #expect(r.output == "previrt run: timed out after 0.5 seconds (--timeout): the guest was stopped at \(guest.address("spin"))\n")
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test("--timeout that is not a positive number is a usage error", arguments: ["0", "-1", "soon"])
    func badTimeout(_ value: String) throws {
        let r = try Toolchain.run(Fixture.previrt, ["run", "--timeout", value, try Guest.build()])
        #expect(r.status == 64)
    }

    @Test("a missing guest: exit 2 and a message, not a usage error")
    func missing() throws {
        let r = try Toolchain.run(Fixture.previrt, ["run", "/nonexistent/guest.elf"])
        #expect(r.status == 2)
        #expect(r.output == "previrt run: /nonexistent/guest.elf: No such file or directory\n")
    }

    @Test("a FIFO or a directory is refused at once by previrt run and by the VMM itself: exit 2")
    func notRegular() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("guest.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, dir.path] {
            let r = try Toolchain.run("timeout", ["-s", "KILL", "10", Fixture.previrt, "run", path])
            #expect(r.status == 2)
            #expect(r.output == "previrt run: \(path): not a regular file\n")
            let vmm = Toolchain.packageRoot.appendingPathComponent("out/host/previrt-linux-user").path
            let direct = try Toolchain.run("timeout", ["-s", "KILL", "10", vmm, path])
            #expect(direct.status == 2)
            #expect(direct.output == "previrt run: \(path): not a regular file\n")
        }
    }

    @Test("previrt run --help documents every exit status")
    func help() throws {
        let r = try Toolchain.run(Fixture.previrt, ["run", "--help"])
        let help = r.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for status in ["(V << 1) | 1", "0 when the guest resets the machine", "4 when it halts with interrupts off", "2 when the guest", "64 for a usage error", "70 for an internal error", "124 when --timeout"] {
            #expect(help.contains(status), "\(status)")
        }
    }
}

/// A guest that sets a gate for `vector`, runs `trigger` (which must reach that gate) and passes (0x10) only
/// when the handler's return address is the instruction after the trigger; falling through is 0x11, a
/// wrong return address 0x12.
private func gateCheck(vector: Int, trigger: String) -> String {
    """
        set_gate 0x\(String(vector, radix: 16)), handler
    \(trigger)
    after:
        mov $0x11, %al
        out %al, $0xf4
    handler:
        cmpl $after, (%esp)
        jne 1f
        mov $0x10, %al
        out %al, $0xf4
    1:  mov $0x12, %al
        out %al, $0xf4
    """
}
