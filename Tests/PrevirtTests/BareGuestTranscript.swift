// SPDX-License-Identifier: GPL-3.0-or-later
// The bare multiboot guests that check one part of the linux-user VMM against QEMU (Guests/paging: the
// MMU; Guests/rings: user mode and supervisor pages): each prints one line per check, and the same file
// must print the same transcript on QEMU (bare hardware) and under `previrt run`.

import Foundation
import Testing

enum BareGuest {
    /// Builds Guests/`name` (out/guest/`name`.elf) and the linux-user VMM; the guest's path.
    static func build(_ name: String) throws -> String {
        let r = try Toolchain.make(["-s", "out/guest/\(name).elf", "out/host/previrt-linux-user"])
        guard r.succeeded else { throw CorpusError("cannot build the \(name) guest: \(r.output)") }
        return Toolchain.packageRoot.appendingPathComponent("out/guest/\(name).elf").path
    }

    /// Boots Guests/`name` on QEMU and under `previrt run` and checks what every such guest must show:
    /// it passes on QEMU, with no FAIL line, the VMM's transcript and status are QEMU's, and every
    /// `check("` in its source printed its ": ok" line. Returns QEMU's run for the suite's own checks.
    @discardableResult
    static func expectSameTranscript(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let guest = try build(name)
        let q = try Guest.boot(guest, "")
        let p = try runUnderLinuxUser(guest)
        #expect(q.status == Guest.passStatus, "\(q.output)", sourceLocation: sourceLocation)
        #expect(q.output.hasSuffix("result: pass\n"), "\(q.output)", sourceLocation: sourceLocation)
        #expect(!q.output.contains("FAIL"), "\(q.output)", sourceLocation: sourceLocation)
        #expect(p.output == q.output, "\(p.output)", sourceLocation: sourceLocation)
        #expect(p.status == Guest.passStatus, sourceLocation: sourceLocation)
        let source = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Guests/\(name)/\(name).c"), encoding: .utf8)
        let checks = source.components(separatedBy: "    check(\"").count - 1
        #expect(p.output.components(separatedBy: ": ok\n").count - 1 == checks, sourceLocation: sourceLocation)
        return q
    }
}
