// SPDX-License-Identifier: GPL-3.0-or-later
// Hostile guests that attack the linux-user VMM's containment directly: they turn Syscall User Dispatch
// off by writing the VMM's selector byte (as a guest that took over the VMM could) and make a host system
// call, which the seccomp filter must stop. Used by the containment suites of the VMM, of Linux-on-Linux
// and of the address-space pool.

import Foundation
import Testing

extension HostileGuest {
    /// The linux-user VMM's own symbols (`vmm_selector`, `pool_turn`, ...), the VMM built first.
    static func vmmSymbols() throws -> [String: UInt32] {
        _ = try Guest.build()
        return try symbols(Toolchain.packageRoot.appendingPathComponent("out/host/previrt-linux-user").path)
    }

    /// A guest that writes 0 to the VMM's dispatch selector at `selector`, sets up the call's arguments
    /// with `setup`, and makes host system call `number` at the label `escape`; if the call comes back,
    /// it exits with 0x10.
    static func escaping(_ number: Int, setup: String, selector: UInt32, in dir: URL) throws -> HostileGuest {
        try build("""
                movb $0, \(selector)
                \(setup)
                mov $\(number), %eax
            escape: .byte 0xcd, 0x80
                mov $0x10, %al
                out %al, $0xf4
            """, in: dir)
    }

    /// What `previrt run` says when the seccomp filter stops host system call `number` made at `escape`.
    func seccompVerdict(_ number: Int) -> String {
        "previrt run: killed: host system call \(number) at \(address("escape")), which the VMM's seccomp "
            + "filter does not allow (the guest tried to reach the host kernel)\n"
    }
}
