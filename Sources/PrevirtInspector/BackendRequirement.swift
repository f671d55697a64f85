// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: how many bytes each of the runtime's backends needs at a site to put its replacement there.

import PrevirtCatalog

/// What one backend of the in-place VMM writes over a site, and so the shortest site it can patch.
///
/// ```swift
/// BackendRequirement.tooShort(siteLength: 1, modeBits: 32)   // ["trace", "linux-user"]
/// ```
public struct BackendRequirement: Sendable, Equatable {
    /// The backend's name, as `previrt run` and the runtime call it.
    public var name: String
    /// The shortest site it patches.
    public var minimumSiteLength: Int
    /// The code modes whose sites it patches (others it leaves native whatever their length).
    public var modes: Set<Int>

    /// The runtime's backends (Sources/PrevirtRuntime/backend_*.c, Hosts/linux-user/vcpu.c):
    /// native leaves every instruction as it is; trace writes a 5-byte `call rel32` over 32- and 64-bit
    /// sites (16-bit ones stay native); linux-user, a 32-bit process, writes a 5-byte `call rel32`; xen,
    /// a 64-bit Xen PV domain, writes a 5-byte `jmp rel32` over 64-bit sites (it refuses 16- and 32-bit code).
    public static let all: [BackendRequirement] = [
        BackendRequirement(name: "native", minimumSiteLength: 0, modes: [16, 32, 64]),
        BackendRequirement(name: "trace", minimumSiteLength: Profile.callSiteLength, modes: [32, 64]),
        BackendRequirement(name: "linux-user", minimumSiteLength: Profile.callSiteLength, modes: [32]),
        BackendRequirement(name: "xen", minimumSiteLength: Profile.callSiteLength, modes: [64]),
    ]

    /// The backends that patch sites of this mode and need more than `siteLength` bytes.
    public static func tooShort(siteLength: Int, modeBits: Int) -> [String] {
        all.filter { $0.modes.contains(modeBits) && siteLength < $0.minimumSiteLength }.map(\.name)
    }
}
