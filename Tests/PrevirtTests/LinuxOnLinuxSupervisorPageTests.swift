// SPDX-License-Identifier: GPL-3.0-or-later
// Linux-on-Linux (issue 10, M3): a page below 3 GiB that the guest kernel maps without the user bit and
// touches itself is filled into the host's mappings for the kernel; the linux-user VMM drops it on the
// way back to user mode (Hosts/linux-user/mmu.c, mmu_enter_user), so that guest user code takes the
// #PF a CPU gives. The rings guest (Guests/rings) checks it with its own GDT, TSS and user mode, on QEMU
// (bare hardware) and under `previrt run`: one transcript.

import Foundation
import Testing

@Suite("Linux-on-Linux: a supervisor page below 3 GiB stays out of guest user mode's reach")
struct LinuxOnLinuxSupervisorPageTests {
    static func build() throws -> String {
        let r = try Toolchain.make(["-s", "out/guest/rings.elf", "out/host/previrt-linux-user"])
        guard r.succeeded else { throw CorpusError("cannot build the rings guest: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/guest/rings.elf").path
    }

    @Test("the kernel's page: #PF with error code 5 from user mode after the kernel touched it, on QEMU and previrt run alike")
    func sameTranscript() throws {
        let guest = try Self.build()
        let q = try Guest.boot(guest, "")
        let p = try runUnderLinuxUser(guest)
        #expect(q.status == Guest.passStatus, "\(q.output)")
        #expect(q.output.hasSuffix("result: pass\n"), "\(q.output)")
        #expect(q.output.contains("user mode's read of the kernel's page faults (#PF from ring 3): ok\n"), "\(q.output)")
        #expect(p.output == q.output, "\(p.output)")
        #expect(p.status == Guest.passStatus)
        // Every check ran: one line per check, as many as the source has.
        let source = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Guests/rings/rings.c"), encoding: .utf8)
        let checks = source.components(separatedBy: "    check(\"").count - 1
        #expect(p.output.components(separatedBy: ": ok\n").count - 1 == checks)
    }
}
