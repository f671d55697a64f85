// SPDX-License-Identifier: GPL-3.0-or-later
// The x86_64 demo guest: one ELF file boots on qemu-system-x86_64 (bare hardware, through its PVH
// entry) with the native and the trace backends, and as dom0 of Debian's Xen 4.17 with the xen
// backend, and prints the same transcript; a tampered copy is refused with nothing patched.

import Foundation
import PrevirtELF
import PrevirtNote
import Testing

enum Guest64 {
    static let transcript = """
        previrt demo64 guest
        interrupt flag (cli, sti, pushf, popf): ok
        global descriptor table and segment registers (lgdt, sgdt, lretq, mov to and from cs, ss, ds, es, fs, gs, push, pop): ok
        global descriptor table loaded again (a changed descriptor; ring 3's selector in fs): ok
        far pointers (lfs, lgs, lss, ljmp): ok
        task register and local descriptor table (ltr, str, lldt, sldt): ok
        interrupt descriptor table (lidt, sidt): ok
        ring 3 and back (iretq and lretq to ring 3; a timer interrupt in ring 3; int $0x80 through the IDT on the TSS's rsp0): ok
        software interrupt (int $0x81 from the kernel; iretq): ok
        halt (sti; hlt, woken by the timer interrupt through the IDT; iretq): ok
        pending interrupt (requested while disabled, delivered at sti): ok
        masked interrupt (waits at the 8259A, delivered when unmasked): ok
        page-table base (mov from and to cr3): ok
        fpu task switch (mov to and from cr0, smsw, lmsw, clts): ok
        model-specific registers (wrmsr, rdmsr: sysenter cs, fs base): ok
        processor identification (cpuid): ok
        tlb and caches (invlpg, wbinvd, invd): ok
        debug registers (mov to and from dr0, dr7): ok
        port i/o (in, out: the COM1 line status): ok
        result: pass

        """
    /// The kinds the checks exercise; each must run at least once under the trace backend.
    static let exercisedKinds = ["cli", "sti", "pushf", "popf", "hlt", "lgdt", "sgdt", "mov-to-seg", "mov-from-seg", "lidt",
                                 "sidt", "smsw", "clts", "iret", "rdmsr", "wrmsr", "mov-to-cr", "mov-from-cr", "cpuid", "invlpg",
                                 "wbinvd", "in", "out", "lldt", "sldt", "ltr", "str", "push-seg", "pop-seg", "lret", "mov-to-dr",
                                 "mov-from-dr", "lfs", "lgs", "lss", "ljmp", "lmsw", "invd", "int"]

    /// Builds the guest with the project's Makefile (the one recipe) and returns its path.
    static func build() throws -> String {
        let r = try Toolchain.make(["-s", "out/guest64/guest64.elf"])
        guard r.succeeded else { throw CorpusError("cannot build the x86_64 guest: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/guest64/guest64.elf").path
    }

    /// Boots `kernel` on qemu-system-x86_64 (TCG) with `append` as the PVH command line.
    static func boot(_ kernel: String, _ append: String) throws -> CommandResult {
        try Guest.bootOnQEMU("qemu-system-x86_64", kernel, append)
    }

    /// Uncompresses Debian's Xen with the project's Makefile and returns its path.
    static func xen() throws -> String {
        let r = try Toolchain.make(["-s", "out/xen/xen.elf"])
        guard r.succeeded else { throw CorpusError("cannot uncompress Xen (apt-get install xen-hypervisor-4.17-amd64): \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/xen/xen.elf").path
    }

    /// Boots `kernel` as dom0 of Xen under QEMU (TCG); the output has its carriage returns removed.
    static func bootUnderXen(_ kernel: String) throws -> CommandResult {
        var r = try Toolchain.run("timeout", [
            "-s", "KILL", "60", "qemu-system-x86_64", "-nographic", "-no-reboot", "-m", "512", "-smp", "1", "-monitor", "none",
            "-serial", "stdio", "-kernel", try xen(),
            "-append", "com1=115200,8n1 console=com1 dom0_mem=32M,max:32M dom0_max_vcpus=1", "-initrd", kernel,
        ])
        r.output = r.output.replacingOccurrences(of: "\r", with: "")
        return r
    }

    /// What the guest printed under Xen: from its first line to Xen's shutdown message.
    static func guestOutput(_ output: String, from first: String) -> Substring? {
        guard let start = output.range(of: first), let end = output.range(of: "(XEN) Hardware Dom0 shutdown", range: start.lowerBound..<output.endIndex)
        else { return nil }
        return output[start.lowerBound..<end.lowerBound]
    }

    /// A copy of `kernel` in `dir` with the instruction of the last cpuid site overwritten by a NOP;
    /// returns the copy's path and the victim site.
    static func tamperedCopy(of kernel: String, in dir: URL) throws -> (path: String, note: Int, address: UInt64) {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))
        let sites = try ELFFile(bytes: bytes).previrtNotes().sites
        let victim = try #require(sites.last { $0.record.kind?.name == "cpuid" })
        let text = try #require(victim.section)
        bytes[Int(text.offset + victim.sectionOffset) + victim.record.instructionOffset] = 0x90
        let copy = dir.appendingPathComponent("tampered64.elf")
        try Data(bytes).write(to: copy)
        return (copy.path, victim.note.index, victim.address)
    }
}

@Suite("x86_64 demo guest on QEMU", .serialized)
struct Guest64Tests {
    @Test("backend native: the PVH entry boots the 64-bit ELF; the transcript, and the pass status")
    func native() throws {
        let r = try Guest64.boot(try Guest64.build(), "previrt=native")
        #expect(r.output == Guest64.transcript)
        #expect(r.status == Guest.passStatus)
    }

    @Test("backend trace: the same transcript, then the counts; every site patched, every exercised kind counted")
    func trace() throws {
        let kernel = try Guest64.build()
        let r = try Guest64.boot(kernel, "previrt=trace")
        #expect(r.status == Guest.passStatus)
        #expect(r.output.hasPrefix(Guest64.transcript))
        let counts = r.output.dropFirst(Guest64.transcript.count).split(separator: "\n")
        let sites = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))).previrtNotes().sites
        #expect(counts.first == "trace: \(sites.count) sites patched, 0 left native")
        let ran = Set(counts.dropFirst().compactMap { $0.split(separator: " ").dropFirst(3).first.map(String.init) })
        for kind in Guest64.exercisedKinds {
            #expect(ran.contains(kind), "\(kind) never ran")
        }
    }

    @Test("a tampered copy is refused on QEMU, naming the site, and nothing is patched", arguments: ["native", "trace"])
    func tampered(_ backend: String) throws {
        let kernel = try Guest64.build()
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = try Guest64.tamperedCopy(of: kernel, in: dir)
        let r = try Guest64.boot(copy.path, "previrt=\(backend)")
        #expect(r.status == Guest.failStatus)
        #expect(r.output == "previrt: refused to patch: note \(copy.note), site 0x\(String(format: "%08x", copy.address)): "
            + "wrong instruction: the bytes at the site are not the recorded instruction; nothing was patched\n")
    }
}

@Suite("x86_64 demo guest as dom0 of Xen 4.17 (QEMU TCG)", .serialized)
struct XenGuestTests {
    @Test("the same file boots as a Xen PV dom0: the same transcript, then the xen backend's counts; the domain shuts down")
    func xen() throws {
        let kernel = try Guest64.build()
        let before = try Data(contentsOf: URL(fileURLWithPath: kernel))
        let r = try Guest64.bootUnderXen(kernel)
        #expect(r.status == 0, "QEMU: \(r.output.suffix(2000))")
        #expect(r.output.contains("(XEN) Hardware Dom0 shutdown: rebooting machine"))
        let guest = try #require(Guest64.guestOutput(r.output, from: "previrt demo64 guest\n"), "\(r.output.suffix(3000))")
        #expect(guest.hasPrefix(Guest64.transcript), "\(guest)")
        let counts = guest.dropFirst(Guest64.transcript.count).split(separator: "\n").map(String.init)

        // Every site of the file was patched, each kind as often as the notes record it.
        let sites = try ELFFile(bytes: Array(before)).previrtNotes().sites
        #expect(counts.first == "xen: \(sites.count) sites patched, 0 left native")
        var perKind: [String: Int] = [:]
        for site in sites { perKind[site.record.kind?.name ?? "?", default: 0] += 1 }
        let patched = try #require(counts.first { $0.hasPrefix("xen: patched: ") })
        let reported = Dictionary(uniqueKeysWithValues: patched.dropFirst("xen: patched: ".count).split(separator: ",").map {
            let words = $0.split(separator: " ")
            return (String(words[0]), Int(words[1]) ?? -1)
        })
        #expect(reported == perKind)
        for kind in Guest64.exercisedKinds { #expect(reported[kind, default: 0] > 0, "\(kind) not patched") }

        // The hypercalls the backend made by the end of the transcript: at boot the shared info mapping,
        // I/O privilege, the user page-table base (mmuext_op), the timer's event channel, the upcall and
        // stopping Xen's periodic timer; then lgdt's copy of the GDT made read-only and given to Xen, and
        // the one descriptor the second lgdt changed (update_descriptor, set_gdt again), lldt's
        // copy of the LDT likewise (update_va_mapping, mmuext_op MMUEXT_SET_LDT), the kernel stack from the
        // TSS (stack_switch, at ltr; the returns to ring 3 find rsp0 unchanged), the trap table (lidt);
        // fs and gs bases (set_segment_base): 0x28 into gs, popped into fs, lfs, lgs, the LDT's 0x04 into
        // fs, null seven times, and wrmsr's FS base set and reset (ring 3's 0x53 loads natively); one mmuext_op each for the cr3 write (both
        // bases in one call), invlpg, wbinvd and invd; dr7 and dr0 written (dr0 twice), dr0 and dr7 read;
        // one console_io per transcript line (COM1 goes to Xen's console line by line); timers the virtual
        // 8254 started and stopped, SCHEDOP_block for hlt, and the hypercall that has Xen deliver the
        // event pending at sti.
        let calls = try #require(counts.first { $0.hasPrefix("xen: hypercalls: ") })
        let made = Dictionary(uniqueKeysWithValues: calls.dropFirst("xen: hypercalls: ".count).split(separator: ",").map {
            let words = $0.split(separator: " ")
            return (String(words[0]), Int(words[1]) ?? -1)
        })
        let lines = Guest64.transcript.split(separator: "\n").count
        for (call, count) in ["update_va_mapping": 3, "set_gdt": 2, "update_descriptor": 1, "set_segment_base": 13, "physdev_op": 1, "event_channel_op": 1,
                              "callback_op": 1, "set_trap_table": 1, "mmuext_op": 6, "stack_switch": 1, "set_debugreg": 3,
                              "get_debugreg": 2, "console_io": lines] {
            #expect(made[call] == count, "\(call): \(calls)")
        }
        #expect(made["vcpu_op", default: 0] >= 4, "\(calls)")     // stop Xen's periodic timer, one-shots, a stop
        #expect((3...4).contains(made["fpu_taskswitch", default: 0]), "\(calls)") // TS set by mov to cr0 (unless set), cleared, set by lmsw, cleared
        #expect(made["sched_op", default: 0] >= 1, "\(calls)")    // SCHEDOP_block
        #expect(made["xen_version", default: 0] >= 1, "\(calls)") // the pending event delivered at sti
        #expect(counts.contains("xen: failed hypercalls: 0"))
        // Virtual interrupts: at least the hlt's wakeup, the one delivered at sti, the one delivered when
        // IRQ 0 was unmasked and the one ring 3 waits for; one upcall more at least, for the event that
        // came while IRQ 0 was masked and returned without an interrupt. Three traps (ring 3's int $0x80,
        // through the trap table) and at least four returns to ring 3 through HYPERVISOR_iret (the iretq
        // and lretq into ring 3, the iretq of the third trip, the timer handler's iretq back to ring 3).
        let events = try #require(counts.first { $0.hasPrefix("xen: events: ") }).split(separator: " ")
        #expect(events.count == 14 && Int(events[4]) ?? 0 >= 4 && Int(events[2]) ?? 0 > Int(events[4]) ?? 0, "\(events)")
        #expect(events.count == 14 && events[7] == "3" && Int(events[9]) ?? 0 >= 4, "\(events)")

        // The very file QEMU boots bare: nothing was rewritten on disk.
        #expect(try Data(contentsOf: URL(fileURLWithPath: kernel)) == before)
        let bare = try Guest64.boot(kernel, "previrt=native")
        #expect(bare.output == Guest64.transcript)
    }

    @Test("a tampered copy is refused under Xen too, naming the site, and nothing is patched")
    func tampered() throws {
        let kernel = try Guest64.build()
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = try Guest64.tamperedCopy(of: kernel, in: dir)
        let r = try Guest64.bootUnderXen(copy.path)
        #expect(r.status == 0)
        let guest = try #require(Guest64.guestOutput(r.output, from: "previrt: "), "\(r.output.suffix(3000))")
        #expect(guest == "previrt: refused to patch: note \(copy.note), site 0x\(String(format: "%08x", copy.address)): "
            + "wrong instruction: the bytes at the site are not the recorded instruction; nothing was patched\n")
    }

    @Test("a kind the xen backend does not support is refused by name under Xen before anything is patched; bare QEMU runs the same file")
    func unsupported() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let extra = dir.appendingPathComponent("extra.S")
        try ".text\n.globl never_called\nnever_called:\nlar %ax, %ecx\nret\n.section .note.GNU-stack,\"\",@progbits\n"
            .write(to: extra, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out").path
        let made = try Toolchain.make(["-s", "OUT=\(out)", "GUEST64_EXTRA=\(extra.path)", "\(out)/guest64/guest64.elf"])
        try #require(made.succeeded, "\(made.output)")
        let kernel = "\(out)/guest64/guest64.elf"
        let sites = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: kernel)))).previrtNotes().sites
        let lar = try #require(sites.first { $0.record.kind?.name == "lar" })

        let r = try Guest64.bootUnderXen(kernel)
        let guest = try #require(Guest64.guestOutput(r.output, from: "previrt: "), "\(r.output.suffix(3000))")
        #expect(guest == "previrt: refused to patch: note \(lar.note.index), site 0x\(String(format: "%08x", lar.address)): "
            + "refused by the backend: lar is not supported by the xen backend; nothing was patched\n")
        let bare = try Guest64.boot(kernel, "previrt=native")
        #expect(bare.output == Guest64.transcript)
    }
}
