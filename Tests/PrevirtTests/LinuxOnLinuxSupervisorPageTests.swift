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
    @Test("the kernel's page: #PF with error code 5 from user mode after the kernel touched it, on QEMU and previrt run alike")
    func sameTranscript() throws {
        let q = try BareGuest.expectSameTranscript("rings")
        #expect(q.output.contains("user mode's read of the kernel's page faults (#PF from ring 3): ok\n"), "\(q.output)")
    }
}
